import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Every connection a fake server has accepted and not yet closed, so that its stop can close
/// them itself. Cancelling a Hummingbird server instead drops connections it accepted but had
/// not handed on, and NIO stops a debug build when that happens ("Deinited NIOAsyncWriter
/// without calling finish()"), taking the whole test process with it.
public final class TrackedConnections: Sendable {
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    /// `child` with each connection it sets up counted here until it closes.
    public func tracking<Child: ServerChildChannel>(_ child: Child) -> TrackedChildChannel<Child> {
        TrackedChildChannel(base: child, connections: self)
    }

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        open.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = open.withLockedValue { $0.removeValue(forKey: key) } }
    }

    /// Closes every connection still open.
    public func closeAll() {
        for channel in open.withLockedValue({ Array($0.values) }) { channel.close(promise: nil) }
    }

    public var count: Int { open.withLockedValue { $0.count } }
}

/// A Hummingbird child channel that reports its connections to `TrackedConnections`.
public struct TrackedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value
    let base: Base
    let connections: TrackedConnections

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        connections.add(channel)
        return base.setup(channel: channel, logger: logger)
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
