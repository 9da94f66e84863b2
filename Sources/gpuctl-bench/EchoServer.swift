import NIOCore
import NIOPosix

/// The baseline: a raw Unix-socket echo server on the same event loop machinery as gpuctld
/// (SwiftNIO), with no framing, no JSON and no routing. What it costs is the floor.
enum EchoServer {
    final class EchoHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }

    static func run(socketPath: String) throws -> Never {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
            }
            .bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true)
            .wait()
        try channel.closeFuture.wait()
        fatalError("the echo server stopped")
    }
}
