import Foundation
import Logging
import WSClient

/// One `/ws` connection that cannot wedge its caller. swift-websocket waits for the upgrade
/// reply on a future that neither times out nor heeds cancellation, so a ComfyUI that accepts
/// the TCP connection but never answers the upgrade (one that is starting or stopping) would
/// hold the follower, and gpuctld's shutdown, forever. Here the connection runs in a task of
/// its own: the caller gets an error when no upgrade came within `upgradeTimeout`, or returns
/// at once when cancelled, and an abandoned connection is closed as soon as it opens.
enum WebSocketAttempt {
    struct UpgradeTimedOut: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "ComfyUI accepted the connection but did not answer the WebSocket upgrade within \(timeout)" }
    }

    /// Runs `body` on the open connection; returns how it closed.
    static func run(url: String, upgradeTimeout: Duration, logger: Logger,
                    body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void)
        async throws -> WebSocketCloseFrame? {
        let gate = Gate()
        let connection = Task {
            try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
                guard gate.open() else { return }
                try await body(inbound, outbound)
            }
        }
        let watchdog = Task {
            try await Task.sleep(for: upgradeTimeout)
            if gate.abandonIfNotOpen() { gate.finish(.failure(UpgradeTimedOut(timeout: upgradeTimeout))) }
        }
        let relay = Task {
            let result = await connection.result
            gate.finish(result)
        }
        defer { watchdog.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                gate.wait(continuation)
            }.get()
        } onCancel: {
            _ = gate.abandonIfNotOpen()
            connection.cancel()
            relay.cancel()
            gate.finish(.failure(CancellationError()))
        }
    }

    /// Whether the connection opened or was given up, and the one resumption of the caller.
    private final class Gate: @unchecked Sendable {
        private let lock = NSLock()
        private var opened = false
        private var abandoned = false
        private var continuation: CheckedContinuation<Result<WebSocketCloseFrame?, any Error>, any Error>?
        private var early: Result<WebSocketCloseFrame?, any Error>?
        private var finished = false

        /// The connection is up; false when the caller already gave up on it.
        func open() -> Bool { lock.withLock { abandoned ? false : { opened = true; return true }() } }

        /// Gives up unless the connection opened; true when it gave up.
        func abandonIfNotOpen() -> Bool { lock.withLock { opened ? false : { abandoned = true; return true }() } }

        func wait(_ waiting: CheckedContinuation<Result<WebSocketCloseFrame?, any Error>, any Error>) {
            let ready: Result<WebSocketCloseFrame?, any Error>? = lock.withLock {
                if let early { finished = true; return early }
                continuation = waiting
                return nil
            }
            if let ready { waiting.resume(returning: ready) }
        }

        /// The first outcome wins; later ones are dropped.
        func finish(_ result: Result<WebSocketCloseFrame?, any Error>) {
            let waiting: CheckedContinuation<Result<WebSocketCloseFrame?, any Error>, any Error>? = lock.withLock {
                guard !finished else { return nil }
                guard let continuation else {
                    if early == nil { early = result }
                    return nil
                }
                finished = true
                self.continuation = nil
                return continuation
            }
            waiting?.resume(returning: result)
        }
    }
}
