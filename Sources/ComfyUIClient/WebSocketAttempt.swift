import Foundation
import Logging
import WSClient

/// One `/ws` connection that cannot wedge its caller. swift-websocket waits for the upgrade
/// reply on a future that neither times out nor heeds cancellation, so a ComfyUI that accepts
/// the TCP connection but never answers the upgrade (one that is starting or stopping) would
/// hold the follower, and gpuctld's shutdown, forever. Here the connection runs in a task of
/// its own: the caller gets an error when no upgrade came within `upgradeTimeout`, or returns
/// at once when cancelled, and an abandoned connection is closed as soon as it opens.
public enum WebSocketAttempt {
    public struct UpgradeTimedOut: Error, CustomStringConvertible {
        public let timeout: Duration
        public var description: String { "ComfyUI accepted the connection but did not answer the WebSocket upgrade within \(timeout)" }
    }

    /// Frames up to 16 MiB (sampler previews are larger than swift-websocket's 16 KiB default).
    public static let configuration = WebSocketClientConfiguration(maxFrameSize: 16 << 20)

    /// Runs `body` on the open connection; returns how it closed.
    public static func run(url: String, upgradeTimeout: Duration, logger: Logger,
                    body: @escaping @Sendable (WebSocketInboundStream, WebSocketOutboundWriter) async throws -> Void)
        async throws -> WebSocketCloseFrame? {
        let gate = Gate()
        let connection = Task {
            do {
                let close = try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                    guard gate.open() else { return }
                    try await body(inbound, outbound)
                }
                gate.finish(.success(close))
            } catch {
                gate.finish(.failure(error))
            }
        }
        let watchdog = Task {
            try await Task.sleep(for: upgradeTimeout)
            if gate.abandonIfNotOpen() { gate.finish(.failure(UpgradeTimedOut(timeout: upgradeTimeout))) }
        }
        defer { watchdog.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                gate.wait(continuation)
            }.get()
        } onCancel: {
            _ = gate.abandonIfNotOpen()
            connection.cancel()
            gate.finish(.failure(CancellationError()))
        }
    }

    /// Whether the connection opened or was given up, and the one resumption of the caller:
    /// the first outcome wins, whether it comes before or after the caller starts waiting.
    private final class Gate: @unchecked Sendable {
        typealias Outcome = Result<WebSocketCloseFrame?, any Error>
        private let lock = NSLock()
        private var opened = false
        private var abandoned = false
        private var outcome: Outcome?
        private var waiting: CheckedContinuation<Outcome, any Error>?

        /// The connection is up; false when the caller already gave up on it.
        func open() -> Bool {
            lock.withLock {
                if !abandoned { opened = true }
                return opened
            }
        }

        /// Gives up unless the connection opened; true when it gave up.
        func abandonIfNotOpen() -> Bool {
            lock.withLock {
                if !opened { abandoned = true }
                return abandoned
            }
        }

        func wait(_ continuation: CheckedContinuation<Outcome, any Error>) {
            let ready: Outcome? = lock.withLock {
                if outcome == nil { waiting = continuation }
                return outcome
            }
            if let ready { continuation.resume(returning: ready) }
        }

        func finish(_ result: Outcome) {
            let resumed: CheckedContinuation<Outcome, any Error>? = lock.withLock {
                guard outcome == nil else { return nil }
                outcome = result
                defer { waiting = nil }
                return waiting
            }
            resumed?.resume(returning: result)
        }
    }
}
