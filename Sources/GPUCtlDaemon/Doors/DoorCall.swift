import Foundation
import GPUCtlCore
import GPUCtlModels

/// Which of the door's routes a request takes: arbitrated (it needs the card), or passed on
/// to Ollama as it is.
enum DoorRoute: Equatable, Sendable {
    /// Ollama's own inference endpoints, relayed byte for byte after the Scheduler's go-ahead.
    case native(NativeEndpoint)
    /// OpenAI's shapes, translated to Ollama's and back.
    case openAI(OpenAIEndpoint)
    /// `GET /v1/models` and `GET /v1/models/{id}`, answered from Ollama's list.
    case openAIModels(id: String?)
    /// Everything else, as it is.
    case passthrough

    enum NativeEndpoint: String, Sendable {
        case generate = "/api/generate", chat = "/api/chat", embed = "/api/embed", embeddings = "/api/embeddings"
    }

    enum OpenAIEndpoint: String, Sendable {
        case chat = "/v1/chat/completions", completions = "/v1/completions", embeddings = "/v1/embeddings"
    }

    init(method: String, path: String) {
        if method == "POST", let native = NativeEndpoint(rawValue: path) {
            self = .native(native)
        } else if method == "POST", let openAI = OpenAIEndpoint(rawValue: path) {
            self = .openAI(openAI)
        } else if method == "GET", path == "/v1/models" {
            self = .openAIModels(id: nil)
        } else if method == "GET", path.hasPrefix("/v1/models/"), path.count > "/v1/models/".count {
            let id = String(path.dropFirst("/v1/models/".count))
            self = .openAIModels(id: id.removingPercentEncoding ?? id)
        } else {
            self = .passthrough
        }
    }
}

/// What an Ollama request body asks of the card, read without deciding anything: the model,
/// whether it only loads or unloads it, and the caller's keep_alive and options.
struct DoorCall: Equatable, Sendable {
    enum Intent: Equatable, Sendable {
        /// Work for the model (a prompt, messages, input).
        case infer
        /// An empty prompt: load the model and answer.
        case load
        /// An empty prompt with `keep_alive: 0`: unload the model.
        case unload
    }

    var model: String
    var intent: Intent
    /// What the caller sent, nil when absent.
    var keepAlive: JSONValue?
    var options: [String: JSONValue]

    /// nil when the body cannot be read as such a request (no model, not an object, a
    /// keep_alive Ollama would refuse): Ollama then answers it with its own error, untouched.
    init?(_ endpoint: DoorRoute.NativeEndpoint, body: [String: JSONValue]) {
        guard let model = body["model"]?.stringValue, !model.isEmpty else { return nil }
        self.model = model
        keepAlive = body["keep_alive"].flatMap { $0 == .null ? nil : $0 }
        if let keepAlive, Self.duration(keepAlive) == nil { return nil }
        switch body["options"] {
        case nil, .null?: options = [:]
        case .object(let members)?: options = members
        default: return nil
        }
        let empty: Bool = switch endpoint {
        case .generate, .embeddings: (body["prompt"]?.stringValue ?? "").isEmpty && body["images"] == nil
        case .chat: Self.isEmpty(body["messages"])
        case .embed: Self.isEmpty(body["input"])
        }
        let unloads = keepAlive.flatMap(Self.duration) == .seconds(0)
        // Only generate and chat have Ollama's unload branch; an empty embed with 0 loads, then unloads.
        intent = !empty ? .infer : (unloads && (endpoint == .generate || endpoint == .chat) ? .unload : .load)
    }

    private static func isEmpty(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: true
        case .string(let text)?: text.isEmpty
        case .array(let items)?: items.isEmpty
        default: false
        }
    }

    /// A keep_alive as Ollama reads it (a number of seconds or a Go duration string).
    static func duration(_ value: JSONValue) -> KeepAlive? {
        switch value {
        case .number(let seconds): KeepAlive(seconds: seconds)
        case .string(let text): KeepAlive(parsing: text)
        default: nil
        }
    }

    /// The keep_alive sent on: the caller's within the catalog's policy. A pinned model keeps
    /// its policy's; "forever" on a model that is not pinned is capped at the policy's value
    /// (nil: Ollama's default); a finite value is the caller's to choose; none: the policy's.
    static func keepAlive(requested: JSONValue?, pinned: Bool, policy: JSONValue?) -> JSONValue? {
        guard let requested, let asked = duration(requested) else { return policy }
        if pinned { return policy ?? requested }
        if asked == .forever { return policy }
        return requested
    }
}
