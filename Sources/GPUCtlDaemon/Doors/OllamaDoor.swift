import BackendHTTP
import Foundation
import GPUCtlCore
import GPUCtlModels
import NIOCore
import NIOHTTP1
import OllamaClient

/// The Ollama-compatible front door (`--ollama-listen`): a client pointed at it instead of
/// Ollama gets Ollama's API unchanged, and its inference waits for the Scheduler's go-ahead
/// like socket work. Requests that need no card pass through to Ollama as they are.
struct OllamaDoor: DoorHandling {
    struct Settings: Sendable {
        /// How long a request may wait for room on the card before a 503.
        var queueTimeout: Duration = .seconds(300)
        /// Limits of an inference relayed from Ollama.
        var inferenceTimeouts = StreamTimeouts()
        /// Limits of a passed-on request (a pull streams progress for as long as it takes).
        var passthroughTimeouts = StreamTimeouts(firstByte: .seconds(300), idle: .seconds(300), total: .seconds(86_400))
        /// The largest request body read.
        var maximumBody = 64 << 20
    }

    /// The request header that chooses the class (`interactive`, `batch`).
    static let classHeader = "X-GPUctl-Class"
    /// The response header that names the model that answered when a fallback did.
    static let modelHeader = "X-GPUctl-Model"

    let supervisor: Supervisor
    let models: ModelService
    let settings: Settings
    let metrics: DaemonMetrics

    var upstream: JSONHTTPClient { models.ollama.transport }

    func handle(_ request: DoorRequest, _ response: DoorResponse) async {
        let started = ContinuousClock.now
        let route = DoorRoute(method: request.head.method.rawValue, path: request.path)
        switch route {
        case .native(let endpoint): await native(endpoint, request, response)
        case .openAI(let endpoint): await openAI(endpoint, request, response)
        case .openAIModels(let id): await openAIModels(id: id, request, response)
        case .passthrough: await passOn(request, to: response, timeouts: settings.passthroughTimeouts)
        }
        metrics.doorRequest(door: "ollama", endpoint: Self.endpointLabel(route), status: response.status,
                            duration: ContinuousClock.now - started)
    }

    /// The metrics label of a route: its path when arbitrated, else "other".
    static func endpointLabel(_ route: DoorRoute) -> String {
        switch route {
        case .native(let endpoint): endpoint.rawValue
        case .openAI(let endpoint): endpoint.rawValue
        case .openAIModels: "/v1/models"
        case .passthrough: "other"
        }
    }

    // MARK: Ollama's own endpoints

    private func native(_ endpoint: DoorRoute.NativeEndpoint, _ request: DoorRequest, _ response: DoorResponse) async {
        // What gpuctld cannot read, Ollama refuses with its own words, before loading anything.
        guard let body = try? JSONParser.parse(request.body.readableBytesView).objectValue,
              let call = DoorCall(endpoint, body: body) else {
            return await passOn(request, to: response, timeouts: settings.inferenceTimeouts)
        }
        let outcome = await arbitrate(call.model, request: request, intent: call.intent) { admission in
            var rewritten = body
            let changed = await applyPolicy(to: &rewritten, call: call, model: admission?.model ?? call.model)
            var relayed = request
            if changed { relayed.body = ByteBuffer(bytes: JSONWriter.data(.object(rewritten))) }
            await passOn(relayed, to: response, timeouts: settings.inferenceTimeouts, answeredBy: admission)
        }
        if case .refused(let status, let message) = outcome { await response.sendError(status: status, message: message) }
        if case .notArbitrated = outcome { await passOn(request, to: response, timeouts: settings.inferenceTimeouts) }
        if call.intent == .infer, call.keepAlive.flatMap(DoorCall.duration) == .seconds(0), case .served(let model) = outcome {
            // Ollama unloads it after this answer; the ledger follows through the Scheduler.
            _ = try? await supervisor.unload(model)
        }
    }

    /// The catalog's policy applied to a body: the model that was admitted (a fallback), the
    /// catalog's runner options on top of the caller's, the caller's keep_alive within the
    /// policy. Returns whether anything changed.
    func applyPolicy(to body: inout [String: JSONValue], call: DoorCall, model: String) async -> Bool {
        var changed = false
        // A catalog alias or a fallback is renamed; a name Ollama knows keeps the caller's
        // spelling, which Ollama echoes back as sent.
        if OllamaName.normalise(model) != OllamaName.normalise(call.model) {
            body["model"] = .string(model)
            changed = true
        }
        let options = models.options(call.options, model: model)
        if options != call.options {
            body["options"] = .object(options)
            changed = true
        }
        let pinned = supervisor.catalog.model(named: model)?.pinned ?? false
        let keepAlive = DoorCall.keepAlive(requested: call.keepAlive, pinned: pinned, policy: models.keepAlive(for: model))
        if keepAlive != call.keepAlive {
            body["keep_alive"] = keepAlive
            changed = true
        }
        return changed
    }

    /// Sends the request to Ollama and relays the answer as it comes. When Ollama cannot be
    /// reached the client gets one `{"error": …}`; when it breaks off a stream, an error line
    /// follows (as Ollama ends a stream that failed), else the connection is cut.
    func passOn(_ request: DoorRequest, to response: DoorResponse, timeouts: StreamTimeouts,
                answeredBy admission: Admission? = nil) async {
        let relayed = RelayedRequest(method: request.head.method, uri: request.head.uri, headers: request.head.headers,
                                     body: request.body.readableBytes > 0 || request.head.method == .POST ? request.body : nil)
        do {
            try await upstream.relay(relayed, timeouts: timeouts, to: AnnotatedTarget(response: response, admission: admission))
        } catch {
            guard !Task.isCancelled else { return response.abort() }
            let failure = OllamaError.wrapping(error, ollamaEndpoint: request.path)
            let message = RPCErrorPayload(failure).message
            if !response.headSent {
                await response.sendError(status: Self.status(ofUpstream: failure), message: message)
            } else if response.contentType?.contains("ndjson") == true {
                var line = ByteBuffer(bytes: JSONWriter.data(.object(["error": .string(message)])))
                line.writeString("\n")
                _ = try? await response.writeBody(line).get()
            } else {
                response.abort()
            }
        }
    }

    /// 502 when Ollama could not be reached, 504 when it went silent.
    static func status(ofUpstream error: Error) -> HTTPResponseStatus {
        if let failure = error as? OllamaError, failure.kind == .timeout { return .gatewayTimeout }
        return .badGateway
    }
}

/// The relay target that names the admitted model in a header when a fallback answered.
private struct AnnotatedTarget: RelayTarget {
    let response: DoorResponse
    let admission: Admission?

    var eventLoop: any EventLoop { response.eventLoop }

    func relayHead(_ head: HTTPResponseHead) -> EventLoopFuture<Void>? {
        var head = head
        if let admission, admission.fallbackUsed { head.headers.replaceOrAdd(name: OllamaDoor.modelHeader, value: admission.model) }
        return response.relayHead(head)
    }

    func relayBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? { response.relayBody(buffer) }

    func abandon() { response.abort() }
}
