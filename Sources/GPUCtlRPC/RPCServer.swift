#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GPUCtlModels
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The JSON-RPC server on a Unix stream socket: one line in, one line out, per call.
public final class RPCServer: Sendable {
    private let serverChannel: any Channel
    private let connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>
    private let calls: InFlightCalls
    public let configuration: RPCServerConfiguration
    private let logger: Logger

    private init(serverChannel: any Channel, connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>,
                 calls: InFlightCalls, configuration: RPCServerConfiguration, logger: Logger) {
        self.serverChannel = serverChannel
        self.connections = connections
        self.calls = calls
        self.configuration = configuration
        self.logger = logger
    }

    /// Takes the socket path (refusing a live daemon, replacing a stale socket), binds, and
    /// starts serving `handler`.
    public static func start(configuration: RPCServerConfiguration, handler: any RPCHandling,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             logger: Logger) async throws -> RPCServer {
        if configuration.inheritedListener == nil {
            try SocketFile.prepare(path: configuration.socketPath)
        }
        let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let calls = InFlightCalls()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.autoRead, value: true)
            // `printf '...' | socat - UNIX:...` half-closes after its request and still wants the reply.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let count = connections.withLockedValue { table -> Int in
                    table[ObjectIdentifier(channel)] = channel
                    return table.count
                }
                channel.closeFuture.whenComplete { _ in
                    _ = connections.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return peerCredentials(of: channel).flatMapThrowing { peer in
                    var refusal: RPCConnectionHandler.Refusal?
                    if count > configuration.maximumConnections {
                        refusal = .tooManyConnections(configuration.maximumConnections)
                    } else if peer.map({ !configuration.peerPolicy.allows($0) }) ?? true {
                        refusal = .forbidden(peer)
                    }
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    try sync.addHandler(ByteToMessageHandler(
                        NDJSONFrameDecoder(maximumLineLength: configuration.maximumLineLength)))
                    try sync.addHandler(RPCConnectionHandler(
                        handler: handler, calls: calls, configuration: configuration, peer: peer, refusal: refusal))
                }
            }
        let channel: any Channel
        if let listener = configuration.inheritedListener {
            do {
                channel = try await bootstrap.withBoundSocket(listener).get()
            } catch {
                throw SocketFileError("cannot serve the socket systemd passed (descriptor \(listener)): \(error)")
            }
        } else {
            do {
                channel = try await bootstrap.bind(unixDomainSocketPath: configuration.socketPath).get()
            } catch {
                throw SocketFileError("cannot listen on \(configuration.socketPath): \(error)")
            }
            do {
                try SocketFile.setAccess(path: configuration.socketPath, mode: configuration.socketMode,
                                         group: configuration.peerPolicy.allowedGID)
            } catch {
                try? await channel.close()
                unlink(configuration.socketPath)
                throw error
            }
        }
        logger.info("serving JSON-RPC", metadata: ["rpc.socket": "\(configuration.socketPath)",
                                                   "rpc.socket_activated": "\(configuration.inheritedListener != nil)"])
        return RPCServer(serverChannel: channel, connections: connections, calls: calls, configuration: configuration,
                         logger: logger)
    }

    /// How many connections are open now.
    public var connectionCount: Int { connections.withLockedValue { $0.count } }

    /// Stops accepting, lets calls in flight finish (new ones are answered `shutting_down`),
    /// closes every connection after `gracePeriod` at the latest, cancels and awaits the calls
    /// still running, and removes the socket file.
    public func shutdown(gracePeriod: Duration = .seconds(3)) async {
        try? await serverChannel.close()
        let open = connections.withLockedValue { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let deadline = ContinuousClock.now + gracePeriod
        while connectionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for channel in connections.withLockedValue({ Array($0.values) }) {
            try? await channel.close()
        }
        // Calls still running past the grace period are cancelled, and awaited: when this
        // returns, no call touches the daemon's state any more.
        await calls.cancelAllAndWait()
        removeSocketFile()
        logger.info("stopped serving JSON-RPC", metadata: ["rpc.socket": "\(configuration.socketPath)"])
    }

    /// Removes the socket file, but only if it is still ours (a socket), never another file.
    private func removeSocketFile() {
        // systemd's socket stays: it starts the daemon again on the next connection.
        guard configuration.inheritedListener == nil else { return }
        var info = stat()
        if lstat(configuration.socketPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK {
            unlink(configuration.socketPath)
        }
    }

    private static func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let future: EventLoopFuture<RawPeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future
            .map { Optional(PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid)) }
            .recover { _ in nil }
    }
}

/// `struct ucred` of Linux (pid, uid, gid: three 32-bit fields), which Glibc only declares
/// under _GNU_SOURCE.
struct RawPeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
