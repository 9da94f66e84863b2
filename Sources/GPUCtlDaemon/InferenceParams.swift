import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import OllamaClient

/// `generate`'s and `chat`'s params, read and checked in full before anything is admitted:
/// a wrong type found after admission would already have loaded a model (and evicted others)
/// for a request that is then refused.
struct InferenceParams {
    static let generateFields = ["model", "prompt", "system", "suffix", "raw", "format", "images", "think", "options",
                                 "stream", "class"]
    static let chatFields = ["model", "messages", "format", "tools", "think", "options", "stream", "class"]

    /// `chat` (messages) rather than `generate` (a prompt).
    let chat: Bool
    let model: String
    let requestClass: JobClass
    let options: [String: JSONValue]
    /// Whether chunks go out as notifications (`stream` is not false and the call has an id).
    let streaming: Bool
    let format: JSONValue?
    let think: JSONValue?
    // generate
    var prompt = ""
    var system: String?
    var suffix: String?
    var raw: Bool?
    var images: [String]?
    // chat
    var messages: [ChatMessage] = []
    var tools: JSONValue?

    /// The params of a `generate` (`chat: false`) or `chat` call.
    init(_ call: RPCCall, chat: Bool) throws(RPCErrorPayload) {
        try self.init(RPCParams(call, allowed: chat ? Self.chatFields : Self.generateFields), chat: chat, hasID: call.id != nil)
    }

    private init(_ params: RPCParams, chat: Bool, hasID: Bool) throws(RPCErrorPayload) {
        self.chat = chat
        model = try params.requiredString("model")
        options = try params.options()
        requestClass = try params.requestClass()
        streaming = (try params.bool("stream") ?? true) && hasID
        format = try Self.format(params)
        think = try Self.think(params)
        if chat {
            messages = try Self.messages(params)
            tools = params.values["tools"]
            switch tools {
            case nil, .null?, .array?: break
            case let other?: throw params.fail("'tools' must be a list of tool definitions, not \(other.typeName)")
            }
        } else {
            guard let text = try params.string("prompt"), !text.isEmpty else {
                throw params.fail("'prompt' is required (to only load a model, call models.load)")
            }
            prompt = text
            system = try params.string("system")
            suffix = try params.string("suffix")
            raw = try params.bool("raw")
            images = try params.strings("images")
        }
    }

    /// Ollama takes `"json"` or a JSON schema (an object).
    static func format(_ params: RPCParams) throws(RPCErrorPayload) -> JSONValue? {
        switch params.values["format"] {
        case nil, .null?: return nil
        case .string("json")?, .object?: return params.values["format"]
        case let other?: throw params.fail("'format' must be \"json\" or a JSON schema object, not \(Self.describe(other))")
        }
    }

    /// true / false, or a level for the models that take one ("high", "medium", "low").
    static func think(_ params: RPCParams) throws(RPCErrorPayload) -> JSONValue? {
        switch params.values["think"] {
        case nil, .null?: return nil
        case .bool?: return params.values["think"]
        case .string(let level)? where ["high", "medium", "low"].contains(level): return params.values["think"]
        case let other?: throw params.fail("'think' must be true, false, \"high\", \"medium\" or \"low\", not \(Self.describe(other))")
        }
    }

    /// A wrong value as an error names it: a string as written, anything else by its type.
    static func describe(_ value: JSONValue) -> String {
        if case .string(let text) = value { return "\"\(text.prefix(40))\"" }
        return value.typeName
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
            switch item["images"] {
            case nil, .null?: break
            case .array(let list)? where list.allSatisfy({ $0.stringValue != nil }): images = list.compactMap(\.stringValue)
            case let other?: throw params.fail("messages[\(index)].images must be a list of base64 strings, not \(other.typeName)")
            }
            messages.append(ChatMessage(role: role.lowercased(), content: content, images: images))
        }
        return messages
    }
}

/// `embed`'s params, read and checked in full before anything is admitted.
struct EmbedParams {
    static let fields = ["model", "input", "truncate", "dimensions", "options", "class"]

    let model: String
    let input: [String]
    let truncate: Bool?
    let dimensions: Int?
    let options: [String: JSONValue]
    let requestClass: JobClass

    init(_ call: RPCCall) throws(RPCErrorPayload) {
        let params = try RPCParams(call, allowed: Self.fields)
        model = try params.requiredString("model")
        guard let input = try params.strings("input"), !input.isEmpty, !input.allSatisfy(\.isEmpty) else {
            throw params.fail("'input' is required: a string or a list of strings")
        }
        self.input = input
        truncate = try params.bool("truncate")
        dimensions = try params.integer("dimensions")
        if let dimensions, dimensions < 1 { throw params.fail("'dimensions' must be a positive integer, not \(dimensions)") }
        options = try params.options()
        requestClass = try params.requestClass()
    }
}
