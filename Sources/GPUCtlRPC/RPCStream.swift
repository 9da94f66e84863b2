import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers
import NIOCore

/// One call's notifications: sent in order on the connection's event loop, where a relay
/// reading a backend's answer runs too, so each line goes out with no thread hand-off and the
/// latest write holds back the reading (backpressure). A call without an id streams nothing.
public final class RPCStream: Sendable {
    /// The connection's loop.
    public let eventLoop: any EventLoop
    private let id: JSONValue?
    private let sendNotification: @Sendable (Data) -> EventLoopFuture<Void>?
    private let lastWrite = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
    private let closeConnection: @Sendable () -> Void
    /// Notifications written and not yet taken by the peer.
    private let pendingWrites = NIOLockedValueBox(0)

    init(id: JSONValue?, eventLoop: any EventLoop, sendNotification: @escaping @Sendable (Data) -> EventLoopFuture<Void>?,
         abandon: @escaping @Sendable () -> Void = {}) {
        self.id = id
        self.eventLoop = eventLoop
        self.sendNotification = sendNotification
        self.closeConnection = abandon
    }

    /// The relay gave up while a write may still wait for a peer that stopped reading: the
    /// connection is closed, which fails that write (and drops the slow reader).
    public func abandon() {
        if pendingWrites.withLockedValue({ $0 }) > 0 { closeConnection() }
    }

    /// Whether notifications go anywhere (the call has an id).
    public var isOpen: Bool { id != nil }

    /// Sends `{"method":"stream","params":{"id":…,"data":…}}`; `data` is JSON.
    public func send(_ data: Data) {
        guard let id else { return }
        let write = sendNotification(RPCWire.streamNotification(id: id, data: data))
        lastWrite.withLockedValue { $0 = write }
        if let write {
            pendingWrites.withLockedValue { $0 += 1 }
            write.whenComplete { [pendingWrites] _ in pendingWrites.withLockedValue { $0 -= 1 } }
        }
    }

    /// The latest write: reading waits until the peer has taken it (a completed one lets it on).
    public func backpressure() -> EventLoopFuture<Void>? {
        lastWrite.withLockedValue { $0 }
    }
}
