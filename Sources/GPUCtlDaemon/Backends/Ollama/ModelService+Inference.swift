import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import OllamaClient

extension ModelService {
    static let runnerOptionKeys = ["num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread"]

    /// The request's options with its runner options replaced by the catalog's (or dropped,
    /// where the catalog sets none): a different num_ctx would make Ollama reload the model at
    /// another size, behind the budget's back. Sampling options are the caller's.
    func options(_ requested: [String: JSONValue], model: String) -> [String: JSONValue] {
        var merged = requested.filter { !Self.runnerOptionKeys.contains($0.key) }
        for (key, value) in supervisor.catalog.model(named: model)?.options ?? [:] where Self.runnerOptionKeys.contains(key) {
            merged[key] = value
        }
        return merged
    }

    func keepAlive(for model: String) -> JSONValue? {
        supervisor.requestKeepAlive(for: model)
    }

    /// `generate` and `chat`: admission, then Ollama's chunks relayed as `stream` notifications
    /// (when `stream` is not false), then the whole answer with Ollama's and gpuctld's numbers.
    /// A failure after chunks were sent is also sent as a notification `{"error":…}`.
    func infer(_ call: InferenceCall, streamTo context: RPCCallContext, id: JSONValue?) async throws -> InferenceResult {
        let started = ContinuousClock.now
        let name = call.model
        // Chunks go out as notifications unless `stream` is false or the call has no id.
        let stream = context.stream(for: call.stream == false ? nil : id)
        let model = try await resolve(name)
        let admission = try await supervisor.admit(model, requestClass: call.requestClass)
        let relay = Relay(limit: maximumAnswerBytes)
        do {
            let merged = self.options(call.options, model: admission.model)
            let keepAlive = keepAlive(for: admission.model)
            // Each chunk: kept for the result, and sent on as a notification when streaming.
            // Read on the connection's event loop, the notification is written at once and its
            // write holds back reading Ollama (backpressure), with no thread hand-off.
            let onChunk: @Sendable (InferenceChunk) -> Void = { chunk in
                relay.add(chunk)
                guard stream.isOpen, !chunk.text.isEmpty || chunk.thinking != nil else { return }
                relay.countSent()
                stream.send(Self.notification(chunk))
            }
            switch call {
            case .chat(let params):
                let request = ChatRequest(
                    model: admission.model, messages: params.messages, format: params.format, tools: params.tools,
                    think: params.think, options: merged, keepAlive: keepAlive)
                try await ollama.chat(request, into: stream, onChunk: onChunk)
            case .generate(let params):
                let request = GenerateRequest(
                    model: admission.model, prompt: params.prompt, system: params.system, suffix: params.suffix,
                    raw: params.raw, format: params.format, images: params.images, think: params.think, options: merged,
                    keepAlive: keepAlive)
                try await ollama.generate(request, into: stream, onChunk: onChunk)
            }
            await supervisor.finish(admission)
            let (text, thinking, last, _) = relay.snapshot
            if relay.overflowed { throw ModelError.answerTooLarge(admission.model, limit: maximumAnswerBytes) }
            return InferenceResult(
                model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed, response: text,
                thinking: thinking, doneReason: last?.doneReason, toolCalls: last?.toolCalls,
                ollama: last?.metrics ?? OllamaMetrics(), gpuctl: Self.timing(admission, started: started))
        } catch {
            await supervisor.finish(admission)
            if relay.snapshot.sent > 0 {
                // The caller has text already: the error follows it on the stream, as Ollama does.
                let payload = RPCErrorPayload(error)
                stream.send(JSONWriter.data(["error": ["kind": .string(payload.data?.kind ?? "internal"),
                                                                    "message": .string(payload.message)]]))
            }
            throw error
        }
    }

    func embed(_ params: EmbedParams) async throws -> EmbedResult {
        let started = ContinuousClock.now
        let name = params.model
        let model = try await resolve(name)
        let admission = try await supervisor.admit(model, requestClass: params.requestClass)
        do {
            let reply = try await ollama.embed(EmbedRequest(
                model: admission.model, input: params.input, truncate: params.truncate,
                dimensions: params.dimensions, options: self.options(params.options, model: admission.model),
                keepAlive: keepAlive(for: admission.model)))
            await supervisor.finish(admission)
            return EmbedResult(model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed,
                               embeddings: reply.embeddings, dimensions: reply.embeddings.first?.count ?? 0,
                               ollama: reply.metrics, gpuctl: Self.timing(admission, started: started))
        } catch {
            await supervisor.finish(admission)
            throw error
        }
    }

    /// `{"text":"…"}` (and `"thinking"` when there is some), written without an encoder.
    static func notification(_ chunk: InferenceChunk) -> Data {
        var out = Data()
        out.append(contentsOf: #"{"text":"#.utf8)
        JSONWriter.appendString(chunk.text, to: &out)
        if let thinking = chunk.thinking {
            out.append(contentsOf: #","thinking":"#.utf8)
            JSONWriter.appendString(thinking, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func timing(_ admission: Admission, started: ContinuousClock.Instant) -> GPUCtlTiming {
        GPUCtlTiming(waitMs: admission.waited.milliseconds, loadMs: admission.loadTime?.milliseconds,
                     totalMs: (ContinuousClock.now - started).milliseconds)
    }
}

/// What a relayed answer has gathered so far: the text, the thinking, the last chunk, and how
/// many notifications went out. Filled from the event loop or a task, read at the end. Past
/// `limit` bytes of text and thinking nothing more is kept, and the answer counts as overflowed.
final class Relay: @unchecked Sendable {
    private let lock = NSLock()
    private let limit: Int
    private var text = ""
    private var thinking: String?
    private var kept = 0
    private var overflow = false
    private var last: InferenceChunk?
    private var sent = 0

    init(limit: Int) { self.limit = limit }

    func add(_ chunk: InferenceChunk) {
        lock.withLock {
            if chunk.done { last = chunk }
            let size = chunk.text.utf8.count + (chunk.thinking?.utf8.count ?? 0)
            guard !overflow, kept + size <= limit else {
                overflow = true
                return
            }
            kept += size
            text += chunk.text
            if let piece = chunk.thinking { thinking = (thinking ?? "") + piece }
        }
    }

    var overflowed: Bool { lock.withLock { overflow } }

    func countSent() { lock.withLock { sent += 1 } }

    var snapshot: (text: String, thinking: String?, last: InferenceChunk?, sent: Int) {
        lock.withLock { (text, thinking, last, sent) }
    }
}

/// A `generate` or a `chat` call: what the two share, read the same way.
enum InferenceCall: Sendable {
    case generate(GenerateParams)
    case chat(ChatParams)

    var model: String {
        switch self {
        case .generate(let params): params.model
        case .chat(let params): params.model
        }
    }

    var stream: Bool? {
        switch self {
        case .generate(let params): params.stream
        case .chat(let params): params.stream
        }
    }

    var requestClass: JobClass {
        switch self {
        case .generate(let params): params.requestClass
        case .chat(let params): params.requestClass
        }
    }

    var options: [String: JSONValue] {
        switch self {
        case .generate(let params): params.options
        case .chat(let params): params.options
        }
    }
}
