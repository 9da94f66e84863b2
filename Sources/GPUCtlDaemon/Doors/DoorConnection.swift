import BackendHTTP
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP request read whole by a front door: its head and its body (bounded).
struct DoorRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    /// The path without its query.
    var path: String { String(head.uri.split(separator: "?", maxSplits: 1).first ?? "") }
}

/// What answers a front door's requests: called once per request in a task of its own, which
/// is cancelled when the client hangs up.
protocol DoorHandling: Sendable {
    func handle(_ request: DoorRequest, _ response: DoorResponse) async
}

/// Reads requests on one connection and hands each, once its body is in, to the handler; the
/// next request waits until the answer to this one has ended (HTTP/1.1 keeps answers in order).
/// A body over `maximumBody` gets 413 and the connection is closed; a client that closes the
/// connection cancels the task answering it. Runs on the channel's event loop.
final class DoorConnectionHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: any DoorHandling
    private let maximumBody: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    /// Requests read while another was being answered (a client that pipelines).
    private var queued: [DoorRequest] = []
    private var inFlight: Task<Void, Never>?

    init(handler: any DoorHandling, maximumBody: Int) {
        self.handler = handler
        self.maximumBody = maximumBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var part):
            guard !tooLarge else { return }
            if body.readableBytes + part.readableBytes > maximumBody {
                tooLarge = true
                body = ByteBuffer()
            } else {
                body.writeBuffer(&part)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                refuseTooLarge(context, head)
                return
            }
            queued.append(DoorRequest(head: head, body: body))
            body = ByteBuffer()
            startNext(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client is gone: whatever answers it stops, and waits in no queue.
        inFlight?.cancel()
        queued.removeAll()
        context.fireChannelInactive()
    }

    /// A request NIO could not parse (an unknown method, a broken head) was answered 400 by
    /// the error handler before it; the connection cannot be read further, so it is closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func startNext(_ context: ChannelHandlerContext) {
        guard inFlight == nil, !queued.isEmpty else { return }
        let request = queued.removeFirst()
        let response = DoorResponse(channel: context.channel, request: request.head)
        let handler = self.handler
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        inFlight = Task {
            await handler.handle(request, response)
            await response.finish()
            loop.execute {
                let (connection, context) = bound.value
                connection.inFlight = nil
                if response.keepsConnection { connection.startNext(context) }
            }
        }
    }

    private func refuseTooLarge(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        let text = #"{"error":"the request body is larger than gpuctld's limit of \#(maximumBody >> 20) MiB"}"#
        let headers = HTTPHeaders([("Content-Type", "application/json; charset=utf-8"),
                                   ("Content-Length", "\(text.utf8.count)"), ("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .payloadTooLarge, headers: headers))),
                      promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
