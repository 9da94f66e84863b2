import Foundation
import GPUCtlModels
import GPUCtlStore
import Testing

/// Submissions that arrive together are written together; each still learns its own outcome.
@Suite(.timeLimit(.minutes(3))) struct GroupCommitTests {
    func store() throws -> JobStore {
        try JobStore(directory: NSTemporaryDirectory() + "gpuctl-group-\(UUID().uuidString)")
    }

    @Test func concurrentInsertsAreAllWrittenWithTheirFirstEvent() async throws {
        let store = try store()
        let jobs = (0..<300).map { index in
            JobRecord(kind: .comfyui, jobClass: index % 2 == 0 ? .batch : .interactive, params: #"{"n":\#(index)}"#)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for job in jobs { group.addTask { try await store.insertGrouped(job) } }
            try await group.waitForAll()
        }
        #expect(try store.jobCounts().queued == 300)
        for job in jobs.prefix(20) {
            let stored = try #require(try store.job(id: job.id))
            #expect(stored.params == job.params && stored.jobClass == job.jobClass && stored.state == .queued)
            // The store keeps milliseconds.
            #expect(abs(stored.createdAt.timeIntervalSince(job.createdAt)) < 0.001)
            #expect(try store.events(jobID: job.id).compactMap(\.state) == [.queued])
        }
        try store.close()
    }

    @Test func aBadRowFailsAloneAndTheRestOfItsBatchIsWritten() async throws {
        let store = try store()
        let existing = JobRecord(kind: .comfyui, jobClass: .batch, params: "{}")
        try store.insert(existing)
        // The duplicate id and the invalid JSON break their transaction; the others must not care.
        var jobs = (0..<50).map { _ in JobRecord(kind: .comfyui, jobClass: .batch, params: "{}") }
        jobs.insert(existing, at: 10)
        jobs.insert(JobRecord(kind: .comfyui, jobClass: .batch, params: "{not json"), at: 30)
        let outcomes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for job in jobs {
                group.addTask {
                    do {
                        try await store.insertGrouped(job)
                        return (job.id, true)
                    } catch let error as StoreError {
                        #expect(error.message.contains("could not add a job"), "\(error.message)")
                        return (job.id, false)
                    } catch {
                        Issue.record("not a StoreError: \(error)")
                        return (job.id, false)
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0, default: []].append($1.1) }
        }
        #expect(outcomes[existing.id] == [false])
        #expect(outcomes[jobs[30].id] == [false])
        #expect(outcomes.values.filter { $0 == [true] }.count == 50)
        #expect(try store.jobCounts().queued == 51)
        try store.close()
    }
}
