import BackendHTTP
import ComfyUIClient
import Foundation
import Logging
import NIOCore
import NIOWebSocket
import WSClient

/// A page's `/ws` through the ComfyUI door, relayed both ways to ComfyUI's `/ws` under the
/// page's own `clientId`: text and binary messages unchanged, except `status`, which counts
/// the jobs waiting in gpuctld too. What ComfyUI tells the page about a prompt also reaches
/// gpuctld's job runner (a prompt submitted for the page sends its events only to the page).
/// When ComfyUI closes or cannot be reached, the page's connection is closed and the page
/// reconnects, as it does with ComfyUI itself. Runs on the page channel's event loop.
final class PageSocketRelay: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Where the page's messages go, and what is learnt from them.
    struct Upstream: Sendable {
        /// ComfyUI's `/ws` URL for a session id (none: ComfyUI picks one).
        var url: @Sendable (String?) -> String
        var upgradeTimeout: Duration
        var pages: ComfyPageSockets
        /// Called with each message about a prompt.
        var onEvent: @Sendable (ComfyEvent) -> Void
        var logger: Logger
    }

    /// Messages from the page held while ComfyUI's side opens; a page sends few.
    private static let pageBacklog = 256
    /// How long a page that stopped reading may hold up its messages before it is dropped.
    static let slowPageLimit: TimeAmount = .seconds(10)

    private let upstream: Upstream
    private let requestedID: String?
    private var session: PageSession?
    private var toComfy: AsyncStream<WebSocketMessage>.Continuation?
    private var relay: Task<Void, Never>?
    private var closing = false

    init(upstream: Upstream, clientID: String?) {
        self.upstream = upstream
        requestedID = clientID
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let session = PageSession(channel: context.channel, clientID: requestedID)
        self.session = session
        let (messages, continuation) = AsyncStream.makeStream(of: WebSocketMessage.self,
                                                              bufferingPolicy: .bufferingOldest(Self.pageBacklog))
        toComfy = continuation
        let upstream = self.upstream
        relay = Task { await Self.run(session, messages: messages, upstream: upstream) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text: toComfy?.yield(.text(String(buffer: frame.unmaskedData)))
        case .binary: toComfy?.yield(.binary(frame.unmaskedData))
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            // The page closes: answer its close, then hang up (RFC 6455 §5.5.1).
            guard !closing else { return context.close(promise: nil) }
            closing = true
            var code = frame.unmaskedData
            let echo = code.readSlice(length: min(2, code.readableBytes)) ?? ByteBuffer()
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)))
                .whenComplete { _ in context.close(promise: nil) }
        default: break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        relay?.cancel()
        toComfy?.finish()
        if let session { upstream.pages.remove(session) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Relays until either side closes, then closes the page's side.
    private static func run(_ session: PageSession, messages: AsyncStream<WebSocketMessage>, upstream: Upstream) async {
        // ComfyUI drops a new socket whose id a closing old one still holds: a page that
        // reconnected with its id waits for its old connection to be gone.
        if let id = session.clientID, let old = upstream.pages.other(than: session, clientID: id) {
            old.channel.close(promise: nil)
            try? await old.channel.closeFuture.get()
        }
        upstream.pages.add(session)
        guard session.channel.isActive else { return upstream.pages.remove(session) }
        var code = WebSocketErrorCode.goingAway
        var reason = "ComfyUI closed the connection"
        do {
            try await WebSocketAttempt.run(url: upstream.url(session.clientID), upgradeTimeout: upstream.upgradeTimeout,
                                           logger: upstream.logger) { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await message in messages {
                            switch message {
                            case .text(let text): try await outbound.write(.text(text))
                            case .binary(let buffer): try await outbound.write(.binary(buffer))
                            }
                        }
                    }
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 16 << 20) {
                            try await forward(message, to: session, upstream: upstream)
                        }
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            code = .unexpectedServerError
            reason = "gpuctld could not reach ComfyUI's /ws: \(JSONHTTPClient.describe(error))"
        }
        guard !Task.isCancelled else { return }
        upstream.logger.debug("page WebSocket \(session.clientID ?? "-") closed: \(reason)")
        var data = session.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: code)
        data.writeString(String(reason.prefix(120)))
        let channel = session.channel
        session.send(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    /// One message from ComfyUI to the page.
    private static func forward(_ message: WebSocketMessage, to session: PageSession, upstream: Upstream) async throws {
        let frame: WebSocketFrame
        switch message {
        case .text(let text):
            var out = text
            switch ComfyEvent(text: Array(text.utf8)) {
            case .status(let remaining, let sid)?:
                if session.clientID == nil, let sid { session.clientID = sid }
                out = PageQueueView.statusMessage(remaining: upstream.pages.comfyReported(remaining), sid: sid)
            case let event? where event.promptID != nil:
                upstream.onEvent(event)
            default:
                break
            }
            frame = WebSocketFrame(fin: true, opcode: .text, data: session.channel.allocator.buffer(string: out))
        case .binary(let buffer):
            frame = WebSocketFrame(fin: true, opcode: .binary, data: buffer)
        }
        let written = session.send(frame)
        guard !session.channel.isWritable else { return }
        // The page stopped reading: wait for it a while, then drop it (it reconnects) rather
        // than hold up what ComfyUI sends.
        let channel = session.channel
        let limit = channel.eventLoop.scheduleTask(in: slowPageLimit) { channel.close(promise: nil) }
        defer { limit.cancel() }
        try await written.get()
    }
}
