import Foundation
import GPUCtlModels

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
    private let sendNotification: @Sendable (Data) -> Void

    public init(peer: PeerCredentials?, sendNotification: @escaping @Sendable (Data) -> Void) {
        self.peer = peer
        self.sendNotification = sendNotification
    }

    /// Sends `{"method":"stream","params":{"id":…,"data":…}}` for this call.
    public func stream(_ id: JSONValue, data: Data) {
        sendNotification(RPCWire.streamNotification(id: id, data: data))
    }

    /// Sends several notifications in one write (one hop to the event loop, one flush), for
    /// pieces that were already waiting together.
    public func stream(_ id: JSONValue, batch: [Data]) {
        guard batch.count > 1 else {
            if let data = batch.first { stream(id, data: data) }
            return
        }
        var lines = Data()
        for (index, data) in batch.enumerated() {
            if index > 0 { lines.append(UInt8(ascii: "\n")) }
            lines.append(RPCWire.streamNotification(id: id, data: data))
        }
        sendNotification(lines)
    }
}
