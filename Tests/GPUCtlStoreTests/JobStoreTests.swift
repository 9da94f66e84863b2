import Foundation
import GPUCtlModels
import GPUCtlStore
import GRDB
import Testing

@Suite(.timeLimit(.minutes(3))) struct JobStoreTests {
    func directory() -> String {
        NSTemporaryDirectory() + "gpuctl-store-\(UUID().uuidString)"
    }

    @Test func jobsMoveThroughStatesAndAreCounted() throws {
        let store = try JobStore(directory: directory())
        let job = JobRecord(kind: .comfyui, jobClass: .batch, params: #"{"workflow":"txt2img"}"#)
        try store.insert(job)
        try store.insert(JobRecord(kind: .comfyui, jobClass: .interactive, params: "{}"))
        try store.transition(jobID: job.id, to: .submitted)
        try store.transition(jobID: job.id, to: .running)
        try store.transition(jobID: job.id, to: .succeeded, result: #"{"files":[]}"#)
        #expect(try store.jobCounts() == JobCounts(queued: 1, succeeded: 1))
        #expect(try store.events(jobID: job.id).compactMap(\.state) == [.queued, .submitted, .running, .succeeded])
        #expect(try store.job(id: job.id)?.result == #"{"files":[]}"#)
        #expect(try store.jobs(in: [.queued]).count == 1)
    }

    @Test func onlyTheNewestFinishedJobsAreKeptAndUnfinishedOnesNeverGo() throws {
        let store = try JobStore(directory: directory())
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var finished: [String] = []
        for index in 0..<6 {
            let job = JobRecord(kind: .comfyui, jobClass: .batch, params: "{}", createdAt: start + Double(index))
            try store.insert(job)
            try store.transition(jobID: job.id, to: index % 2 == 0 ? .succeeded : .failed, error: index % 2 == 0 ? nil : "x")
            finished.append(job.id)
        }
        let waiting = JobRecord(kind: .comfyui, jobClass: .batch, params: "{}", createdAt: start - 100)
        try store.insert(waiting)
        #expect(try store.forgetFinishedJobs(keeping: 2) == 4)
        #expect(try finished.map { try store.job(id: $0) != nil } == [false, false, false, false, true, true])
        #expect(try store.events(jobID: finished[0]).isEmpty)
        #expect(try store.job(id: waiting.id)?.state == .queued)
        #expect(try store.forgetFinishedJobs(keeping: 2) == 0)
        #expect(try store.integrityCheck() == "ok")
    }

    @Test func finalStatesNeverChange() throws {
        let store = try JobStore(directory: directory())
        let job = JobRecord(kind: .ollama, jobClass: .interactive, params: "{}")
        try store.insert(job)
        try store.transition(jobID: job.id, to: .cancelled)
        #expect {
            try store.transition(jobID: job.id, to: .running)
        } throws: { error in
            (error as? StoreError)?.message == "job \(job.id) already ended as cancelled"
        }
        #expect(throws: StoreError.self) { try store.transition(jobID: "nope", to: .running) }
    }

    @Test func schemaConstraintsHold() throws {
        let store = try JobStore(directory: directory())
        // params must be JSON: the CHECK constraint refuses it, and the error says what failed.
        #expect {
            try store.insert(JobRecord(kind: .comfyui, jobClass: .batch, params: "not json"))
        } throws: { error in
            (error as? StoreError)?.message.contains("CHECK constraint failed") == true
        }
        let job = JobRecord(kind: .comfyui, jobClass: .batch, params: "{}", promptID: "p-1")
        try store.insert(job)
        #expect(throws: StoreError.self) {
            try store.insert(JobRecord(kind: .comfyui, jobClass: .batch, params: "{}", promptID: "p-1"))
        }
    }

    @Test func footprintsKeepLatestAndPeak() throws {
        let store = try JobStore(directory: directory())
        try store.recordFootprint(subject: "ollama:llama3.1:8b", bytes: 6_000)
        try store.recordFootprint(subject: "ollama:llama3.1:8b", bytes: 7_000)
        let record = try store.recordFootprint(subject: "ollama:llama3.1:8b", bytes: 6_500)
        #expect(record.bytes == 6_500 && record.peakBytes == 7_000 && record.samples == 3)
        #expect(try store.footprint(subject: "workflow:none") == nil)
    }

    @Test func dataSurvivesReopening() throws {
        let path = directory()
        let job = JobRecord(kind: .comfyui, jobClass: .batch, params: "{}")
        do {
            let store = try JobStore(directory: path)
            try store.insert(job)
            try store.close()
        }
        let reopened = try JobStore(directory: path)
        #expect(try reopened.job(id: job.id)?.state == .queued)
        // WAL mode, as DESIGN.md says.
        let mode = try DatabaseQueue(path: reopened.path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test func aCorruptStoreIsAClearError() throws {
        let path = directory()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: "\(path)/\(JobStore.fileName)"))
        #expect {
            _ = try JobStore(directory: path)
        } throws: { error in
            let message = (error as? StoreError)?.message ?? ""
            return message.contains("is damaged or not a SQLite database") && message.contains("move it aside")
        }
    }

    @Test func anUnusableStateDirectoryIsAClearError() throws {
        let file = directory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect {
            _ = try JobStore(directory: file)
        } throws: { error in
            (error as? StoreError)?.message == "the state directory \(file) is a file, not a directory; pass --state-dir with a directory gpuctld may write"
        }
        #expect {
            _ = try JobStore(directory: "\(file)/below")
        } throws: { error in
            (error as? StoreError)?.message.hasPrefix("cannot create the state directory \(file)/below") == true
        }
    }
}
