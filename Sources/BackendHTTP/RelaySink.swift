import NIOCore

/// Where a relayed stream goes: the event loop its lines are read on (the loop its consumer
/// writes from, so no line changes threads), and the consumer's write that must finish before
/// more is read (backpressure). The RPC transport's `RPCStream` is one.
public protocol RelaySink: Sendable {
    var eventLoop: any EventLoop { get }
    /// The consumer's latest write; reading waits until it has completed. nil: nothing to wait for.
    func backpressure() -> EventLoopFuture<Void>?
    /// The relay gave up (a limit passed) while the consumer's write may still be pending: fail it.
    func abandon()
}
