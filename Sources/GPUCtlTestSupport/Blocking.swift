import Dispatch

/// Runs blocking work (the POSIX RPC client, child processes) on a Dispatch thread, so tests
/// never hold the few threads of Swift's cooperative pool that the daemon's own tasks need.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
