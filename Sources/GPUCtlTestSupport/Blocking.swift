import Foundation

/// Runs blocking work (the POSIX RPC client, child processes) on a thread of its own, so tests
/// never hold the few threads of Swift's cooperative pool that the daemon's own tasks need.
/// (Dispatch's global queues are no help: on Linux they run only as many blocks as there are cores.)
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
