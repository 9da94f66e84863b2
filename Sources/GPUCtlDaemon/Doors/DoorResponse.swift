import BackendHTTP
import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The answer to one front-door request, written to its connection: a whole response, or a
/// relayed head and body parts (each write's future is the backpressure a relay waits on).
/// Safe to use from the handler's task and from the relay's event loop.
final class DoorResponse: RelayTarget, Sendable {
    private struct State {
        var headSent = false
        var ended = false
        var status = 0
        var contentType: String?
        var flushScheduled = false
    }

    let channel: any Channel
    private let request: HTTPRequestHead
    private let state = NIOLockedValueBox(State())

    init(channel: any Channel, request: HTTPRequestHead) {
        self.channel = channel
        self.request = request
    }

    var eventLoop: any EventLoop { channel.eventLoop }
    /// Whether the connection serves another request after this one.
    var keepsConnection: Bool { request.isKeepAlive && channel.isActive }
    /// Whether the head went out (after that, a failure can only end or cut the body).
    var headSent: Bool { state.withLockedValue { $0.headSent } }
    /// The status sent, 0 before the head.
    var status: Int { state.withLockedValue { $0.status } }
    /// The Content-Type sent, if any.
    var contentType: String? { state.withLockedValue { $0.contentType } }

    /// Sends a head with `status` and `headers` (hop-by-hop ones are dropped, framing is NIO's).
    @discardableResult
    func sendHead(status: HTTPResponseStatus, headers: HTTPHeaders) -> EventLoopFuture<Void>? {
        var kept = RelayedRequest.endToEnd(headers)
        if let length = headers.first(name: "content-length") { kept.add(name: "Content-Length", value: length) }
        if request.method == .HEAD, !kept.contains(name: "content-length") { kept.add(name: "Content-Length", value: "0") }
        if !request.isKeepAlive { kept.add(name: "Connection", value: "close") }
        let first = state.withLockedValue { state -> Bool in
            guard !state.headSent else { return false }
            state.headSent = true
            state.status = Int(status.code)
            state.contentType = kept.first(name: "content-type")
            return true
        }
        guard first else { return nil }
        let head = HTTPResponseHead(version: request.version, status: status, headers: kept)
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        return nil
    }

    /// A whole answer: head, body and end.
    func send(status: HTTPResponseStatus, contentType: String, body: ByteBuffer) async {
        sendHead(status: status, headers: HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.readableBytes)")]))
        if request.method != .HEAD, body.readableBytes > 0 { _ = writeBody(body) }
        await finish()
    }

    /// A JSON answer `{"error": message}` as Ollama writes one (no trailing newline).
    func sendError(status: HTTPResponseStatus, message: String) async {
        var body = ByteBuffer()
        body.writeBytes(JSONWriter.data(.object(["error": .string(message)])))
        await send(status: status, contentType: "application/json; charset=utf-8", body: body)
    }

    /// Writes and flushes a body part; the future completes when it has reached the socket.
    func writeBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        write(.body(.byteBuffer(buffer)))
    }

    /// A relayed body part: written at once, flushed once per turn of the event loop (the
    /// parts of one read from the backend go out in one syscall). Reading the backend waits
    /// only while the connection holds more than its high-water mark (64 KiB) unsent: then the
    /// write's future is returned, and a client that stopped reading holds the relay there.
    /// Called on the connection's event loop.
    func relayWrite(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(buffer)), promise: promise)
        let schedule = state.withLockedValue { state -> Bool in
            defer { state.flushScheduled = true }
            return !state.flushScheduled
        }
        if schedule {
            channel.eventLoop.execute { [self] in
                state.withLockedValue { $0.flushScheduled = false }
                channel.flush()
            }
        }
        return channel.isWritable ? nil : promise.futureResult
    }

    private func write(_ part: HTTPServerResponsePart) -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(part, promise: promise)
        return promise.futureResult
    }

    /// Ends the answer (once); the connection closes after it unless it is kept alive.
    func finish() async {
        if !headSent {
            // A handler that wrote nothing is a bug; the client still gets an answer.
            await sendError(status: .internalServerError, message: "gpuctld wrote no answer to this request; please report it")
            return
        }
        let end = state.withLockedValue { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        guard end else { return }
        let done = write(.end(nil))
        if !request.isKeepAlive {
            done.whenComplete { [channel] _ in channel.close(promise: nil) }
        }
        try? await done.get()
    }

    /// Cuts the connection: the body cannot be finished honestly.
    func abort() {
        state.withLockedValue { $0.ended = true }
        channel.close(promise: nil)
    }

    // MARK: RelayTarget

    func relayHead(_ head: HTTPResponseHead) -> EventLoopFuture<Void>? {
        sendHead(status: head.status, headers: head.headers)
    }

    func relayBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        relayWrite(buffer)
    }

    func abandon() { abort() }
}
