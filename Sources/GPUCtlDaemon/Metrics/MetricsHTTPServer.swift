import Foundation
import GPUCtlModels
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `GET /metrics` over HTTP for Prometheus (`--metrics-listen`).
enum MetricsHTTPServer {
    /// Binds `address` and serves `render()` at `/metrics`.
    static func start(address: ListenAddress, render: @escaping @Sendable () async -> String,
                      logger: Logger) async throws(DaemonStartError) -> HTTPListener {
        try await HTTPListener.start(address: address, what: "metrics", setting: .metricsListen,
                                     makeHandler: { _ in MetricsRequestHandler(render: render) }, logger: logger)
    }
}

/// One request at a time per connection: `GET`/`HEAD /metrics` → 200, another path → 404,
/// another method → 405.
private final class MetricsRequestHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () async -> String) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(context, head)
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/metrics" else {
            return respond(context, head, .notFound, "only /metrics is served here\n", contentType: "text/plain")
        }
        guard head.method == .GET || head.method == .HEAD else {
            return respond(context, head, .methodNotAllowed, "use GET\n", contentType: "text/plain", extra: [("Allow", "GET, HEAD")])
        }
        let render = self.render
        let loop = context.eventLoop
        let boxed = NIOLoopBound((self, context), eventLoop: loop)
        let promise = loop.makePromise(of: String.self)
        promise.completeWithTask { await render() }
        promise.futureResult.whenSuccess { text in
            let (handler, context) = boxed.value
            handler.respond(context, head, .ok, text, contentType: MetricsResult.prometheusContentType)
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ body: String, contentType: String, extra: [(String, String)] = []) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.utf8.count)")] + extra)
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
    }
}
