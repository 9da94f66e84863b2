import GPUCtlRPC
import ServiceLifecycle

/// The socket server as a Service: serving starts when the daemon starts (so a busy socket is a
/// start-up error); at graceful shutdown calls in flight finish and the socket file goes.
struct RPCService: Service {
    let server: RPCServer
    let gracePeriod: Duration
    /// Subscriptions never end by themselves: they are ended first, so they do not hold the
    /// stop for the whole grace period.
    let events: EventHub

    func run() async throws {
        try? await gracefulShutdown()
        events.finishAll()
        await server.shutdown(gracePeriod: gracePeriod)
    }
}
