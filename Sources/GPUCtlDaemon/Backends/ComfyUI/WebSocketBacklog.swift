import ComfyUIClient
import Foundation

/// Bounds the /ws messages waiting for the job runner. The runner takes one input at a time and
/// may spend minutes on a download meanwhile; a ComfyUI (or an impostor) that floods its /ws
/// would otherwise grow the runner's queue without end. Past `limit` waiting messages the rest
/// are dropped, and the runner is told the connection was lost, as after a real drop: the job
/// lifecycle then learns what it missed from /history and /queue. Once the runner has caught
/// up, it is told the connection is back.
final class WebSocketBacklog: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting = 0
    private var dropping = false
    let limit: Int

    init(limit: Int = 10_000) { self.limit = limit }

    /// What to pass to the runner for `item`: the item, a `.disconnected` in its place when the
    /// backlog has just filled, or nothing while it is dropping.
    func admit(_ item: ComfyStreamItem) -> ComfyStreamItem? {
        lock.withLock {
            guard !dropping else { return nil }
            waiting += 1
            guard waiting > limit else { return item }
            dropping = true
            return .disconnected(reason: "gpuctld fell \(limit) /ws messages behind ComfyUI and dropped the rest")
        }
    }

    /// Passes `item` on to the runner's inputs, or what stands in for it (see `admit`).
    func feed(_ item: ComfyStreamItem, into inputs: AsyncStream<RunnerInput>.Continuation) {
        if let admitted = admit(item) { inputs.yield(.comfy(admitted)) }
    }

    /// The runner took one item. Returns a `.connected` to feed it when a backlog that was
    /// dropping has drained (messages flow again).
    func took() -> ComfyStreamItem? {
        lock.withLock {
            waiting = max(0, waiting - 1)
            guard dropping, waiting == 0 else { return nil }
            dropping = false
            return .connected(sid: nil)
        }
    }
}
