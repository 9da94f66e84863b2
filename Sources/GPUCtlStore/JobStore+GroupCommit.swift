import Foundation
import GRDB

/// Inserts that arrive while another is being written wait for it and then go in together,
/// in one transaction (group commit): a burst of submissions shares commits instead of
/// queueing behind one commit each. Each caller still returns only once its row is written.
final class GroupCommit: @unchecked Sendable {
    private struct Waiting {
        var jobs: [(job: JobRecord, done: CheckedContinuation<Void, any Error>)] = []
        var writing = false
    }

    /// Guards `waitingState`. An NSLock, not Synchronization's `Mutex`: that one locks inside
    /// the uninstrumented runtime, so ThreadSanitizer would report every access as a race.
    private let lock = NSLock()
    private var waitingState = Waiting()
    /// The writes run here, off the caller's thread, one batch at a time.
    private let queue = DispatchQueue(label: "gpuctl.store.group-commit")
    /// The largest batch in one transaction, so one commit never grows without bound.
    static let batchLimit = 256

    func insert(_ job: JobRecord, into store: JobStore) async throws {
        // Alone: written here, with no hop to the queue (one client submitting in a loop).
        let alone = withWaiting { waiting -> Bool in
            guard !waiting.writing else { return false }
            waiting.writing = true
            return true
        }
        if alone {
            let written = Result { () throws(StoreError) in try store.insert([job]) }
            // Whoever arrived meanwhile is written by the queue.
            let more = withWaiting { waiting -> Bool in
                if waiting.jobs.isEmpty { waiting.writing = false }
                return !waiting.jobs.isEmpty
            }
            if more { queue.async { self.drain(into: store) } }
            return try written.get()
        }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let lead = withWaiting { waiting -> Bool in
                waiting.jobs.append((job, done))
                guard !waiting.writing else { return false }
                waiting.writing = true
                return true
            }
            if lead { queue.async { self.drain(into: store) } }
        }
    }

    private func withWaiting<Result>(_ body: (inout Waiting) -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body(&waitingState)
    }

    private func drain(into store: JobStore) {
        while true {
            let batch = withWaiting { waiting -> [(job: JobRecord, done: CheckedContinuation<Void, any Error>)] in
                let taken = Array(waiting.jobs.prefix(Self.batchLimit))
                waiting.jobs.removeFirst(taken.count)
                if taken.isEmpty { waiting.writing = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                try store.insert(batch.map(\.job))
                for item in batch { item.done.resume() }
            } catch {
                // One bad row must not fail the others: each is tried alone.
                for item in batch {
                    do {
                        try store.insert([item.job])
                        item.done.resume()
                    } catch {
                        item.done.resume(throwing: error)
                    }
                }
            }
        }
    }
}

