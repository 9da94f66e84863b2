import GPUCtlModels

/// `POST /api/generate` with a prompt. Fields left nil are not sent, so Ollama's defaults apply.
public struct GenerateRequest: Sendable, Equatable {
    public var model: String
    public var prompt: String
    public var system: String?
    public var template: String?
    public var suffix: String?
    public var raw: Bool?
    /// `"json"` or a JSON schema.
    public var format: JSONValue?
    public var images: [String]?
    public var think: JSONValue?
    public var options: [String: JSONValue]
    /// A number of seconds or a duration string, as Ollama takes it.
    public var keepAlive: JSONValue?

    public init(model: String, prompt: String, system: String? = nil, template: String? = nil, suffix: String? = nil,
                raw: Bool? = nil, format: JSONValue? = nil, images: [String]? = nil, think: JSONValue? = nil,
                options: [String: JSONValue] = [:], keepAlive: JSONValue? = nil) {
        self.model = model
        self.prompt = prompt
        self.system = system
        self.template = template
        self.suffix = suffix
        self.raw = raw
        self.format = format
        self.images = images
        self.think = think
        self.options = options
        self.keepAlive = keepAlive
    }

    var body: JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "prompt": .string(prompt), "stream": .bool(true)]
        object["system"] = system.map(JSONValue.string)
        object["template"] = template.map(JSONValue.string)
        object["suffix"] = suffix.map(JSONValue.string)
        object["raw"] = raw.map(JSONValue.bool)
        object["format"] = format
        object["images"] = images.map { .array($0.map(JSONValue.string)) }
        object["think"] = think
        if !options.isEmpty { object["options"] = .object(options) }
        object["keep_alive"] = keepAlive
        return .object(object)
    }
}

/// `POST /api/chat`.
public struct ChatRequest: Sendable, Equatable {
    public var model: String
    public var messages: [ChatMessage]
    public var format: JSONValue?
    public var tools: JSONValue?
    public var think: JSONValue?
    public var options: [String: JSONValue]
    public var keepAlive: JSONValue?

    public init(model: String, messages: [ChatMessage], format: JSONValue? = nil, tools: JSONValue? = nil,
                think: JSONValue? = nil, options: [String: JSONValue] = [:], keepAlive: JSONValue? = nil) {
        self.model = model
        self.messages = messages
        self.format = format
        self.tools = tools
        self.think = think
        self.options = options
        self.keepAlive = keepAlive
    }

    var body: JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "messages": .array(messages.map(\.json)),
                                           "stream": .bool(true)]
        object["format"] = format
        object["tools"] = tools
        object["think"] = think
        if !options.isEmpty { object["options"] = .object(options) }
        object["keep_alive"] = keepAlive
        return .object(object)
    }
}

/// Ollama's counters and durations are `OllamaMetrics` (GPUCtlModels), the same type gpuctld
/// sends on: each optional, since Ollama leaves zeros out.
extension OllamaMetrics {
    /// Reads them from one of Ollama's answers (`total_duration`, ..., nanoseconds).
    init(_ object: JSONValue) {
        func integer(_ key: String) -> Int64? {
            if case .number(let value)? = object[key] { return Int64(exactly: value.rounded()) }
            return nil
        }
        self.init(totalDuration: integer("total_duration"), loadDuration: integer("load_duration"),
                  promptEvalCount: integer("prompt_eval_count"), promptEvalDuration: integer("prompt_eval_duration"),
                  evalCount: integer("eval_count"), evalDuration: integer("eval_duration"))
    }
}

/// One streamed piece of a generate or chat answer. The last one has `done` set, the reason,
/// and the metrics; it may still carry text.
public struct InferenceChunk: Sendable, Equatable {
    /// `response` of generate, `message.content` of chat.
    public var text: String
    public var thinking: String?
    public var done: Bool
    /// `stop`, `length`, `load` or `unload`.
    public var doneReason: String?
    public var toolCalls: JSONValue?
    public var metrics: OllamaMetrics?

    public init(text: String, thinking: String? = nil, done: Bool, doneReason: String? = nil,
                toolCalls: JSONValue? = nil, metrics: OllamaMetrics? = nil) {
        self.text = text
        self.thinking = thinking
        self.done = done
        self.doneReason = doneReason
        self.toolCalls = toolCalls
        self.metrics = metrics
    }

    /// Reads a generate line or a chat line.
    init?(_ line: JSONValue) {
        guard line.objectValue != nil else { return nil }
        let message = line["message"]
        guard let text = line["response"]?.stringValue ?? message?["content"]?.stringValue else { return nil }
        let done = line["done"] == .bool(true)
        self.init(text: text, thinking: line["thinking"]?.stringValue ?? message?["thinking"]?.stringValue,
                  done: done, doneReason: line["done_reason"]?.stringValue,
                  toolCalls: message?["tool_calls"] ?? line["tool_calls"],
                  metrics: done ? OllamaMetrics(line) : nil)
    }
}

/// `POST /api/embed`.
public struct EmbedRequest: Sendable, Equatable {
    public var model: String
    public var input: [String]
    public var truncate: Bool?
    public var dimensions: Int?
    public var options: [String: JSONValue]
    public var keepAlive: JSONValue?

    public init(model: String, input: [String], truncate: Bool? = nil, dimensions: Int? = nil,
                options: [String: JSONValue] = [:], keepAlive: JSONValue? = nil) {
        self.model = model
        self.input = input
        self.truncate = truncate
        self.dimensions = dimensions
        self.options = options
        self.keepAlive = keepAlive
    }

    var body: JSONValue {
        var object: [String: JSONValue] = ["model": .string(model), "input": .array(input.map(JSONValue.string))]
        object["truncate"] = truncate.map(JSONValue.bool)
        object["dimensions"] = dimensions.map { .number(Double($0)) }
        if !options.isEmpty { object["options"] = .object(options) }
        object["keep_alive"] = keepAlive
        return .object(object)
    }
}

/// The answer of `/api/embed`: one L2-normalised vector per input.
public struct EmbedResponse: Sendable, Equatable {
    public var model: String
    public var embeddings: [[Double]]
    public var metrics: OllamaMetrics
}

/// One entry of `/api/tags`: a model Ollama has on disk.
public struct LocalModel: Sendable, Equatable, Codable {
    public var name: String
    /// Bytes on disk.
    public var size: UInt64
    public var digest: String?
}

/// What `/api/show` says about a model that gpuctld needs.
public struct ModelInfo: Sendable, Equatable {
    /// `completion`, `embedding`, `tools`, `vision`, `thinking`, ...
    public var capabilities: [String]
    public var family: String?
    public var parameterSize: String?
    public var quantization: String?

    public var isEmbeddingOnly: Bool { capabilities.contains("embedding") && !capabilities.contains("completion") }
}
