import Foundation
import GPUCtlModels
import NIOCore

/// Serves one connection: parses each line, answers it (inline for immediate methods, on a
/// task otherwise), and holds back reading while too many calls are in flight or the peer is
/// not reading its replies. A bad line is answered with an error; nothing a peer sends can
/// throw out of this handler.
final class RPCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = NDJSONFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Why a connection is refused before it is served.
    enum Refusal {
        case forbidden(PeerCredentials?)
        case tooManyConnections(Int)
    }

    private let handler: any RPCHandling
    private let calls: InFlightCalls
    private let configuration: RPCServerConfiguration
    private let peer: PeerCredentials?
    private let refusal: Refusal?
    private var inFlight = 0
    private var pendingRead = false
    private var draining = false
    /// The peer half-closed: answer what is in flight, then close.
    private var inputClosed = false
    private var closing = false
    private var writeStall: Scheduled<Void>?
    /// A refused connection: its answer is sent and the peer's input drained until it hangs up
    /// or this fires.
    private var lingering: Scheduled<Void>?
    /// This connection's calls on tasks, by request id, so `cancel` and a hang-up can stop them.
    private var tasksByRequest: [JSONValue: Int] = [:]
    private var tasks: Set<Int> = []
    private var context: ChannelHandlerContext?

    init(handler: any RPCHandling, calls: InFlightCalls, configuration: RPCServerConfiguration, peer: PeerCredentials?,
         refusal: Refusal?) {
        self.handler = handler
        self.calls = calls
        self.configuration = configuration
        self.peer = peer
        self.refusal = refusal
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Added once the peer's credentials were read: the channel may be active already, and
        // then channelActive never comes here. A refusal must still be made.
        if context.channel.isActive { applyRefusal(context) }
    }
    func handlerRemoved(context: ChannelHandlerContext) {
        writeStall?.cancel()
        lingering?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The peer is gone: nobody will read the answers, so stop the work (upstream requests too).
        calls.cancel(tasks)
        context.fireChannelInactive()
    }

    func channelActive(context: ChannelHandlerContext) {
        applyRefusal(context)
        if !closing { context.fireChannelActive() }
    }

    /// Refuses the connection when it was accepted only to be told why not (once).
    private func applyRefusal(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        switch refusal {
        case .forbidden(let peer)?:
            let who = peer.map { "uid \($0.uid)" } ?? "an unidentified peer"
            refuse(context, RPCErrorPayload(.forbidden, "forbidden: \(who) may not use this socket; ask the daemon's owner to add you to its --allow-group"))
        case .tooManyConnections(let limit)?:
            // Closed at once: lingering would hold a descriptor for each connection of a flood.
            refuse(context, RPCErrorPayload(.overloaded, "overloaded: the daemon already serves \(limit) connections; close some and try again"),
                   linger: false)
        case nil:
            break
        }
    }

    /// Answers why, then (with `linger`) closes only the sending half: what the peer still sends
    /// is read and dropped, so its request does not fail with a broken pipe before it reads the
    /// answer (and no unread bytes turn the close into a reset). Fully closed when the peer hangs
    /// up, or after `refusalLinger`. Lingering connections still count against the limit.
    private func refuse(_ context: ChannelHandlerContext, _ error: RPCErrorPayload, linger: Bool = true) {
        closing = true
        configuration.onRefusal?(error)
        writeLine(context, RPCWire.response(id: .null, reply: .error(error)))
        guard linger else { return context.close(promise: nil) }
        context.close(mode: .output, promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        lingering = context.eventLoop.scheduleTask(in: configuration.refusalLinger) {
            loopBound.value.close(promise: nil)
        }
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .tooLong:
            let limit = configuration.maximumLineLength
            refuse(context, RPCErrorPayload(.tooLarge, "request too large: a line may hold at most \(limit) bytes (\(limit >> 20) MiB); the connection is closed"))
        case .line(let buffer):
            let bytes = buffer.readableBytesView
            // Blank lines between requests are tolerated, as most NDJSON readers do.
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
            dispatch(context, RPCMessageParser.parse(bytes))
        }
    }

    private func dispatch(_ context: ChannelHandlerContext, _ line: RPCLine) {
        switch line {
        case .single(.invalid(let id, let error)):
            configuration.onRefusal?(error)
            writeLine(context, RPCWire.response(id: id, reply: .error(error)))
        case .single(.call(let call)) where call.method == "cancel":
            answer(context, call, cancel(call))
        case .single(.call(let call)):
            if draining {
                configuration.onRefusal?(shuttingDown)
                answer(context, call, .error(shuttingDown))
            } else if let reply = handler.answerImmediately(call) {
                answer(context, call, reply)
            } else {
                startTask(context, requestID: call.id) { handler, callContext in
                    let reply = await handler.handle(call, context: callContext)
                    return call.id.map { RPCWire.response(id: $0, reply: reply) }
                }
            }
        case .batch(let items):
            startTask(context, requestID: nil) { [draining, shuttingDown, onRefusal = configuration.onRefusal] handler, callContext in
                var replies: [Data] = []
                for item in items {
                    switch item {
                    case .invalid(let id, let error):
                        onRefusal?(error)
                        replies.append(RPCWire.response(id: id, reply: .error(error)))
                    case .call(let call):
                        let reply: RPCReply = if draining {
                            .error(shuttingDown)
                        } else if let immediate = handler.answerImmediately(call) {
                            immediate
                        } else {
                            await handler.handle(call, context: callContext)
                        }
                        if let id = call.id { replies.append(RPCWire.response(id: id, reply: reply)) }
                    }
                }
                // A batch of notifications only gets no reply at all.
                guard !replies.isEmpty else { return nil }
                return Data("[".utf8) + replies.joined(separator: Data(",".utf8)) + Data("]".utf8)
            }
        }
    }

    private var shuttingDown: RPCErrorPayload {
        RPCErrorPayload(.shuttingDown, "the daemon is shutting down; retry once it is back")
    }

    private func answer(_ context: ChannelHandlerContext, _ call: RPCCall, _ reply: RPCReply) {
        guard let id = call.id else { return }
        writeLine(context, RPCWire.response(id: id, reply: reply))
    }

    /// Runs `work` off the event loop; its reply line (if any) is written back on the loop.
    /// `{"method":"cancel","params":{"id":X}}` stops call X of this connection, which then
    /// answers with a `cancelled` error.
    private func cancel(_ call: RPCCall) -> RPCReply {
        let target: JSONValue
        do {
            target = try CancelParams(.cancel, params: call.params).id
        } catch {
            return .error(error)
        }
        guard let task = tasksByRequest[target] else { return .result(Data(#"{"cancelled":false}"#.utf8)) }
        calls.cancel([task])
        return .result(Data(#"{"cancelled":true}"#.utf8))
    }

    private func startTask(_ context: ChannelHandlerContext, requestID: JSONValue?,
                           _ work: @escaping @Sendable (any RPCHandling, RPCCallContext) async -> Data?) {
        inFlight += 1
        let channel = context.channel
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let writer = NotificationWriter(channel: channel)
        let callContext = RPCCallContext(peer: peer, eventLoop: context.eventLoop,
                                         sendNotification: { notification in writer.write(notification) },
                                         abandon: { channel.close(promise: nil) })
        let handler = self.handler
        // Started from the event loop and finished on it, so `task` is known before it ends.
        let task = calls.start { task in
            let line = await work(handler, callContext)
            channel.eventLoop.execute {
                loopBound.value.finishTask(line: line, task: task, requestID: requestID)
            }
        }
        tasks.insert(task)
        if let requestID { tasksByRequest[requestID] = task }
    }

    private func finishTask(line: Data?, task: Int, requestID: JSONValue?) {
        tasks.remove(task)
        if let requestID, tasksByRequest[requestID] == task { tasksByRequest[requestID] = nil }
        inFlight -= 1
        guard let context else { return }
        if let line { writeLine(context, line) }
        if (draining || inputClosed) && inFlight == 0 {
            context.close(promise: nil)
        } else {
            resumeReadingIfPossible(context)
        }
    }

    private func writeLine(_ context: ChannelHandlerContext, _ line: Data) {
        var buffer = context.channel.allocator.buffer(capacity: line.count + 1)
        buffer.writeBytes(line)
        buffer.writeInteger(UInt8(ascii: "\n"))
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    // MARK: Backpressure

    private var mayRead: Bool {
        !closing && inFlight < configuration.maximumInFlightPerConnection && (context?.channel.isWritable ?? false)
    }

    func read(context: ChannelHandlerContext) {
        if mayRead || lingering != nil { context.read() } else { pendingRead = true }
    }

    private func resumeReadingIfPossible(_ context: ChannelHandlerContext) {
        guard pendingRead, mayRead else { return }
        pendingRead = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            writeStall?.cancel()
            writeStall = nil
            resumeReadingIfPossible(context)
        } else if writeStall == nil {
            // The peer is not reading its replies: give it a while, then hang up.
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            writeStall = context.eventLoop.scheduleTask(in: configuration.writeStallTimeout) {
                loopBound.value.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Idle connections and shutdown

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if inFlight == 0 { context.close(promise: nil) }
        } else if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            inputClosed = true
            if inFlight == 0 || lingering != nil { context.close(promise: nil) }
        } else if event is ChannelShouldQuiesceEvent {
            draining = true
            if inFlight == 0 { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A peer that resets the connection is not the daemon's problem.
        context.close(promise: nil)
    }
}
