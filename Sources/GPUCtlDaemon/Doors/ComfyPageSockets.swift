import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// One page's `/ws` connection through the ComfyUI door: what gpuctld writes to it besides
/// what ComfyUI sends (the queue's status, a prompt gpuctld could not run).
final class PageSession: Sendable {
    let channel: any Channel
    private let client = NIOLockedValueBox<String?>(nil)

    init(channel: any Channel, clientID: String?) {
        self.channel = channel
        client.withLockedValue { $0 = clientID }
    }

    /// The page's session id: the one it asked for, else the one ComfyUI gave it.
    var clientID: String? {
        get { client.withLockedValue { $0 } }
        set { client.withLockedValue { $0 = newValue } }
    }

    /// Writes one text message; the future completes when it reached the socket.
    @discardableResult
    func send(_ text: String) -> EventLoopFuture<Void> {
        send(WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text)))
    }

    func send(_ frame: WebSocketFrame) -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(frame, promise: promise)
        return promise.futureResult
    }
}

/// The pages connected through the door's `/ws`, and the two counts their `status` messages
/// add up: what ComfyUI last said it holds, and what waits in gpuctld.
final class ComfyPageSockets: Sendable {
    private struct State {
        var sessions: [ObjectIdentifier: PageSession] = [:]
        var comfyRemaining = 0
        var waiting = 0
    }

    private let state = NIOLockedValueBox(State())

    func add(_ session: PageSession) { state.withLockedValue { $0.sessions[ObjectIdentifier(session)] = session } }
    func remove(_ session: PageSession) { state.withLockedValue { $0.sessions[ObjectIdentifier(session)] = nil } }

    var count: Int { state.withLockedValue { $0.sessions.count } }
    /// What a `status` message says is left: ComfyUI's queue and gpuctld's waiting jobs.
    var remaining: Int { state.withLockedValue { $0.comfyRemaining + $0.waiting } }
    var waiting: Int { state.withLockedValue { $0.waiting } }

    /// ComfyUI's count from a `status` it sent; returns the page's count.
    func comfyReported(_ remaining: Int) -> Int {
        state.withLockedValue { state in
            state.comfyRemaining = remaining
            return state.comfyRemaining + state.waiting
        }
    }

    /// gpuctld's count of waiting jobs; true when it changed.
    func waitingChanged(to waiting: Int) -> Bool {
        state.withLockedValue { state in
            defer { state.waiting = waiting }
            return state.waiting != waiting
        }
    }

    /// Sends `text` to every page.
    func broadcast(_ text: String) {
        for session in state.withLockedValue({ Array($0.sessions.values) }) { session.send(text) }
    }

    /// Sends `text` to the pages of one session id.
    func send(_ text: String, toClient clientID: String) {
        let sessions = state.withLockedValue { $0.sessions.values.filter { $0.clientID == clientID } }
        for session in sessions { session.send(text) }
    }

    /// The open session with this id, besides `session` (a page that reconnected).
    func other(than session: PageSession, clientID: String) -> PageSession? {
        state.withLockedValue { $0.sessions.values.first { $0 !== session && $0.clientID == clientID } }
    }
}
