import BackendHTTP
import Foundation
import Logging
import WSClient

/// What following ComfyUI's `/ws` reports: a connection (with the `sid` ComfyUI confirmed),
/// each event, and a drop (after which the follower reconnects by itself).
public enum ComfyStreamItem: Sendable, Equatable {
    case connected(sid: String?)
    case event(ComfyEvent)
    case disconnected(reason: String)
}

extension ComfyUIClient {
    /// `ws://host:port/ws?clientId=ID` for this client's base URL.
    /// Without an id, ComfyUI picks one and names it in its first `status` message.
    public func webSocketURL(clientID: String?) -> String {
        let base = baseURL.hasPrefix("https://") ? "wss://" + baseURL.dropFirst(8) : "ws://" + baseURL.dropFirst(baseURL.hasPrefix("http://") ? 7 : 0)
        return clientID.map { "\(base)/ws?clientId=\(Self.escape($0))" } ?? "\(base)/ws"
    }

    /// Follows `/ws` as `clientID` until the task is cancelled, handing every item to `onItem`.
    /// A dropped connection is reported, then replaced after a capped, jittered backoff by a new
    /// one that is opened only once the old one has closed: ComfyUI silently drops a new socket
    /// whose id an old, still-closing one holds. Events missed while disconnected are not
    /// replayed by ComfyUI; reconcile with `history` after a `.disconnected`.
    public func follow(clientID: String, retry: RetryPolicy = RetryPolicy(attempts: .max, baseDelay: .milliseconds(100),
                                                                          maximumDelay: .seconds(5)),
                       onItem: @escaping @Sendable (ComfyStreamItem) -> Void) async {
        let url = webSocketURL(clientID: clientID)
        var attempt = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var reason = "the connection closed"
            do {
                let close = try await WebSocketAttempt.run(url: url, upgradeTimeout: quickTimeout * 5, logger: logger) { inbound, outbound in
                    // Previews then carry their prompt and node (PREVIEW_IMAGE_WITH_METADATA).
                    try await outbound.write(.text(#"{"type":"feature_flags","data":{"supports_preview_metadata":true}}"#))
                    for try await message in inbound.messages(maxSize: 64 << 20) {
                        switch message {
                        case .text(let text):
                            guard let event = ComfyEvent(text: Array(text.utf8)) else { continue }
                            if case .status(_, let sid?) = event { onItem(.connected(sid: sid)) }
                            onItem(.event(event))
                        case .binary(let buffer):
                            if let event = ComfyEvent(binary: Array(buffer.readableBytesView)) { onItem(.event(event)) }
                        }
                    }
                }
                if let close { reason = "ComfyUI closed the connection (\(close.closeCode))" }
            } catch {
                reason = JSONHTTPClient.describe(error)
            }
            guard !Task.isCancelled else { return }
            onItem(.disconnected(reason: reason))
            // A connection that lasted starts the backoff afresh.
            attempt = ContinuousClock.now - started > .seconds(10) ? 1 : attempt + 1
            try? await Task.sleep(for: retry.delay(afterAttempt: attempt))
        }
    }

    /// Follows `/ws` while `body` runs, handing it the items as an AsyncSequence; the
    /// connection ends with `body`.
    public func withEvents<Result: Sendable>(
        clientID: String, _ body: @escaping @Sendable (AsyncStream<ComfyStreamItem>) async throws -> Result
    ) async throws -> Result {
        let (stream, continuation) = AsyncStream<ComfyStreamItem>.makeStream(bufferingPolicy: .bufferingNewest(100_000))
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                await follow(clientID: clientID) { continuation.yield($0) }
                continuation.finish()
                return nil
            }
            group.addTask { try await body(stream) }
            while let outcome = try await group.next() {
                if let result = outcome {
                    group.cancelAll()
                    return result
                }
            }
            throw CancellationError()
        }
    }
}
