import GPUCtlRPC
import ServiceLifecycle

/// The socket server as a Service: serving starts when the daemon starts (so a busy socket is a
/// start-up error); at graceful shutdown calls in flight finish and the socket file goes.
struct RPCService: Service {
    let server: RPCServer
    let gracePeriod: Duration

    func run() async throws {
        try? await gracefulShutdown()
        await server.shutdown(gracePeriod: gracePeriod)
    }
}
