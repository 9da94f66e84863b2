import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import NIOCore
import OllamaClient

extension ModelService {
    static let runnerOptionKeys = ["num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread"]

    /// The request's options with the catalog's runner options on top: a different num_ctx
    /// would make Ollama reload the model at another size, behind the budget's back.
    func options(_ requested: [String: JSONValue], model: String) -> [String: JSONValue] {
        var merged = requested
        for (key, value) in supervisor.catalog.model(named: model)?.options ?? [:] where Self.runnerOptionKeys.contains(key) {
            merged[key] = value
        }
        return merged
    }

    func keepAlive(for model: String) async -> JSONValue? {
        await supervisor.loadPlan(for: model).keepAlive
    }

    /// `generate` and `chat`: admission, then Ollama's chunks relayed as `stream` notifications
    /// (when `stream` is not false), then the whole answer with Ollama's and gpuctld's numbers.
    /// A failure after chunks were sent is also sent as a notification `{"error":…}`.
    func infer(_ params: RPCParams, chat: Bool, streamTo context: RPCCallContext, id: JSONValue?) async throws -> InferenceResult {
        let started = ContinuousClock.now
        let name = try params.requiredString("model")
        let options = try params.options()
        let requestClass = try params.requestClass()
        let streaming = (try params.bool("stream") ?? true) && id != nil
        var messages: [ChatMessage] = []
        var prompt = ""
        if chat {
            messages = try Self.messages(params)
        } else {
            guard let text = try params.string("prompt"), !text.isEmpty else {
                throw params.fail("'prompt' is required (to only load a model, call models.load)")
            }
            prompt = text
        }
        let model = try await resolve(name)
        let admission = try await supervisor.admit(model, requestClass: requestClass)
        let relay = Relay()
        do {
            let merged = self.options(options, model: admission.model)
            let keepAlive = await keepAlive(for: admission.model)
            // Each chunk: kept for the result, and sent on as a notification when streaming.
            // Read on the connection's event loop, the notification is written at once and its
            // write's future holds back reading Ollama (backpressure), with no thread hand-off.
            let onChunk: @Sendable (InferenceChunk) throws -> EventLoopFuture<Void>? = { chunk in
                relay.add(chunk)
                guard streaming, let id, !chunk.text.isEmpty || chunk.thinking != nil else { return nil }
                relay.countSent()
                return context.stream(id, data: Self.notification(chunk))
            }
            if chat {
                let request = ChatRequest(
                    model: admission.model, messages: messages, format: params.values["format"], tools: params.values["tools"],
                    think: params.values["think"], options: merged, keepAlive: keepAlive)
                if let loop = context.eventLoop {
                    try await ollama.chat(request, on: loop, onChunk: onChunk)
                } else {
                    try await ollama.chat(request) { stream in for try await chunk in stream { _ = try onChunk(chunk) } }
                }
            } else {
                let request = GenerateRequest(
                    model: admission.model, prompt: prompt, system: try params.string("system"),
                    suffix: try params.string("suffix"), raw: try params.bool("raw"), format: params.values["format"],
                    images: try params.strings("images"), think: params.values["think"], options: merged,
                    keepAlive: keepAlive)
                if let loop = context.eventLoop {
                    try await ollama.generate(request, on: loop, onChunk: onChunk)
                } else {
                    try await ollama.generate(request) { stream in for try await chunk in stream { _ = try onChunk(chunk) } }
                }
            }
            await supervisor.finish(admission)
            let (text, thinking, last, _) = relay.snapshot
            return InferenceResult(
                model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed, response: text,
                thinking: thinking, doneReason: last?.doneReason, toolCalls: last?.toolCalls,
                ollama: last?.metrics ?? OllamaMetrics(), gpuctl: Self.timing(admission, started: started))
        } catch {
            await supervisor.finish(admission)
            let payload = RPCErrorPayload(ollama: error)
            if streaming, let id, relay.snapshot.sent > 0 {
                context.stream(id, data: JSONWriter.data(["error": ["kind": .string(payload.data?.kind ?? "internal"),
                                                                    "message": .string(payload.message)]]))
            }
            throw payload
        }
    }

    func embed(_ params: RPCParams) async throws -> EmbedResult {
        let started = ContinuousClock.now
        let name = try params.requiredString("model")
        guard let input = try params.strings("input"), !input.isEmpty, !input.allSatisfy(\.isEmpty) else {
            throw params.fail("'input' is required: a string or a list of strings")
        }
        let options = try params.options()
        let model = try await resolve(name)
        let admission = try await supervisor.admit(model, requestClass: try params.requestClass())
        do {
            let reply = try await ollama.embed(EmbedRequest(
                model: admission.model, input: input, truncate: try params.bool("truncate"),
                dimensions: try params.integer("dimensions"), options: self.options(options, model: admission.model),
                keepAlive: await keepAlive(for: admission.model)))
            await supervisor.finish(admission)
            return EmbedResult(model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed,
                               embeddings: reply.embeddings, dimensions: reply.embeddings.first?.count ?? 0,
                               ollama: reply.metrics, gpuctl: Self.timing(admission, started: started))
        } catch {
            await supervisor.finish(admission)
            throw RPCErrorPayload(ollama: error)
        }
    }

    static func messages(_ params: RPCParams) throws(RPCErrorPayload) -> [ChatMessage] {
        guard case .array(let items)? = params.values["messages"], !items.isEmpty else {
            throw params.fail("'messages' is required: a list like [{\"role\":\"user\",\"content\":\"hi\"}]")
        }
        var messages: [ChatMessage] = []
        for (index, item) in items.enumerated() {
            guard let role = item["role"]?.stringValue, let content = item["content"]?.stringValue else {
                throw params.fail("messages[\(index)] needs a string 'role' and a string 'content'")
            }
            guard ["system", "user", "assistant", "tool"].contains(role.lowercased()) else {
                throw params.fail("messages[\(index)].role is '\(role)'; use system, user, assistant or tool")
            }
            var images: [String]?
            if case .array(let list)? = item["images"] { images = list.compactMap(\.stringValue) }
            messages.append(ChatMessage(role: role.lowercased(), content: content, images: images))
        }
        return messages
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
/// many notifications went out. Filled from the event loop or a task, read at the end.
final class Relay: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    private var thinking: String?
    private var last: InferenceChunk?
    private var sent = 0

    func add(_ chunk: InferenceChunk) {
        lock.withLock {
            text += chunk.text
            if let piece = chunk.thinking { thinking = (thinking ?? "") + piece }
            if chunk.done { last = chunk }
        }
    }

    func countSent() { lock.withLock { sent += 1 } }

    var snapshot: (text: String, thinking: String?, last: InferenceChunk?, sent: Int) {
        lock.withLock { (text, thinking, last, sent) }
    }
}
