import NIOCore
import GPUCtlModels

/// How the RPC server behaves, as a value with defaults (Hummingbird's ServerConfiguration style).
public struct RPCServerConfiguration: Sendable {
    /// The Unix socket's path.
    public var socketPath: String
    /// A listening socket handed over by systemd (socket activation). The server accepts on it
    /// instead of creating `socketPath`, and leaves the file alone: it is systemd's, which
    /// keeps listening while the daemon is stopped and starts it on the next connection.
    public var inheritedListener: Int32?
    /// Permission bits of the socket file.
    public var socketMode: UInt32 = 0o660
    /// Who may connect.
    public var peerPolicy: PeerPolicy = PeerPolicy()
    /// Longest accepted line; a longer one is answered with an error and the connection closed.
    public var maximumLineLength: Int = 8 * 1024 * 1024
    /// Calls one connection may have in flight before the server stops reading from it.
    public var maximumInFlightPerConnection: Int = 64
    /// Connections served at once; more are answered `overloaded` and closed.
    public var maximumConnections: Int = 512
    /// A connection with nothing in flight that sends nothing for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(300)
    /// A connection whose peer stops reading for this long while replies wait is closed.
    public var writeStallTimeout: TimeAmount = .seconds(30)
    /// How long a refused connection (forbidden, too many, a line too long) is drained after
    /// its answer before it is closed, if the peer does not hang up first.
    public var refusalLinger: TimeAmount = .seconds(5)

    /// Told of every error answered before any method ran (unparsable JSON, a line too long,
    /// a forbidden peer, too many connections, a call during shutdown): for metrics.
    public var onRefusal: (@Sendable (RPCErrorPayload) -> Void)?

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}
