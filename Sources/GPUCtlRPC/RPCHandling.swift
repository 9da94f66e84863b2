import Foundation
import GPUCtlModels
import NIOCore

/// The server's view of whatever answers calls: the daemon's router implements it.
public protocol RPCHandling: Sendable {
    /// Answers `call` on the connection's event loop without suspending, for methods that
    /// touch no shared state (ping, version). Return nil to have `handle` called instead.
    func answerImmediately(_ call: RPCCall) -> RPCReply?

    /// Answers `call`. `context` carries the peer and a way to stream notifications.
    func handle(_ call: RPCCall, context: RPCCallContext) async -> RPCReply
}

extension RPCHandling {
    public func answerImmediately(_ call: RPCCall) -> RPCReply? { nil }
}

/// What a method knows about its caller, and how it streams.
public struct RPCCallContext: Sendable {
    public var peer: PeerCredentials?
    /// The connection's event loop: work done on it can stream without a thread hand-off.
    let eventLoop: any EventLoop
    private let sendNotification: @Sendable (Data) -> EventLoopFuture<Void>?
    private let abandon: @Sendable () -> Void

    init(peer: PeerCredentials?, eventLoop: any EventLoop, sendNotification: @escaping @Sendable (Data) -> EventLoopFuture<Void>?,
         abandon: @escaping @Sendable () -> Void) {
        self.peer = peer
        self.eventLoop = eventLoop
        self.sendNotification = sendNotification
        self.abandon = abandon
    }

    /// A context with no caller behind it, for calls the daemon makes on its own (a pipeline's
    /// steps): nothing is streamed anywhere.
    public static func detached(eventLoop: any EventLoop) -> RPCCallContext {
        RPCCallContext(peer: nil, eventLoop: eventLoop, sendNotification: { _ in nil }, abandon: {})
    }

    /// The notifications of the call whose id is `id` (none for a call without one).
    public func stream(for id: JSONValue?) -> RPCStream {
        RPCStream(id: id, eventLoop: eventLoop, sendNotification: sendNotification, abandon: abandon)
    }
}
