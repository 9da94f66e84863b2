import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A TCP listener serving HTTP/1.1 with one handler per connection: the metrics endpoint and
/// the front doors. Bound while the daemon starts, so a busy port is a start-up error; closed
/// at shutdown (connections in flight are closed with it).
final class HTTPListener: Service, Sendable {
    private let channel: any Channel
    private static let handlerName = "gpuctl.http"
    /// Where it listens (the port the system picked when 0 was asked for).
    let address: ListenAddress

    private init(channel: any Channel, address: ListenAddress) {
        self.channel = channel
        self.address = address
    }

    /// Binds `address`; `makeHandler` makes each connection's handler. `what` and `setting`
    /// name it in the start-up error ("metrics", `--metrics-listen`). With `upgrader`, a
    /// request it accepts (a WebSocket) leaves HTTP: the connection's handler is removed and
    /// the upgrader's pipeline takes over.
    static func start(address: ListenAddress, what: String, setting: DaemonSetting,
                      upgrader: (@Sendable () -> any HTTPServerProtocolUpgrader & Sendable)? = nil,
                      makeHandler: @escaping @Sendable (any Channel) -> any ChannelHandler & Sendable,
                      logger: Logger) async throws(DaemonStartError) -> HTTPListener {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrade: NIOHTTPServerUpgradeConfiguration? = upgrader.map { make in
                        (upgraders: [make()], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(name: Self.handlerName, promise: nil)
                        })
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: upgrade,
                                                                                     withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(makeHandler(channel), name: Self.handlerName)
                }
            }
        do {
            let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
            let bound = ListenAddress(host: address.host, port: channel.localAddress?.port ?? address.port)
            logger.info("\(what) served at http://\(bound)")
            return HTTPListener(channel: channel, address: bound)
        } catch {
            throw DaemonStartError("cannot serve \(what) on \(address) (\(error)); pick a free port with --\(setting.flag) or leave it out")
        }
    }

    func run() async throws {
        try? await gracefulShutdown()
        try? await channel.close()
    }

    /// Closes the listener now (a start that failed later).
    func close() async { try? await channel.close() }
}
