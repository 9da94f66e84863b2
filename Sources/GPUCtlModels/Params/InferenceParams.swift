/// `generate`: `{"model", "prompt", "system"?, "suffix"?, "raw"?, "format"?, "images"?,
/// "think"?, "options"?, "stream"?, "class"?}`.
public struct GenerateParams: RPCParams, Equatable {
    public enum Field: String, ParamField {
        case model, prompt, system, suffix, raw, format, images, think, options, stream, requestClass = "class"
    }

    public var model: String
    public var prompt: String
    public var system: String?
    public var suffix: String?
    public var raw: Bool?
    public var format: JSONValue?
    public var images: [String]?
    public var think: JSONValue?
    public var options: [String: JSONValue] = [:]
    /// nil: streamed (when the call has an id).
    public var stream: Bool?
    public var requestClass: JobClass = .interactive

    public init(model: String, prompt: String) {
        self.model = model
        self.prompt = prompt
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.requiredString(Field.model)
        options = try ModelOptions.read(params, Field.options)
        requestClass = try params.requestClass(Field.requestClass)
        stream = try params.bool(Field.stream)
        format = try ModelOptions.format(params, Field.format)
        think = try ModelOptions.think(params, Field.think)
        guard let text = try params.string(Field.prompt), !text.isEmpty else {
            throw params.fail("'prompt' is required (to only load a model, call models.load)")
        }
        prompt = text
        system = try params.string(Field.system)
        suffix = try params.string(Field.suffix)
        raw = try params.bool(Field.raw)
        images = try params.strings(Field.images)
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = .string(model)
        writer[.prompt] = .string(prompt)
        writer[.system] = system.map(JSONValue.string)
        writer[.suffix] = suffix.map(JSONValue.string)
        writer[.raw] = raw.map(JSONValue.bool)
        writer[.format] = format
        writer[.images] = images.map { .array($0.map(JSONValue.string)) }
        writer[.think] = think
        if !options.isEmpty { writer[.options] = .object(options) }
        writer[.stream] = stream.map(JSONValue.bool)
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// `chat`: `{"model", "messages", "format"?, "tools"?, "think"?, "options"?, "stream"?, "class"?}`.
public struct ChatParams: RPCParams, Equatable {
    public enum Field: String, ParamField {
        case model, messages, format, tools, think, options, stream, requestClass = "class"
    }

    public var model: String
    public var messages: [ChatMessage]
    public var format: JSONValue?
    /// Ollama's tool definitions, passed on as they are.
    public var tools: JSONValue?
    public var think: JSONValue?
    public var options: [String: JSONValue] = [:]
    public var stream: Bool?
    public var requestClass: JobClass = .interactive

    public init(model: String, messages: [ChatMessage]) {
        self.model = model
        self.messages = messages
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.requiredString(Field.model)
        options = try ModelOptions.read(params, Field.options)
        requestClass = try params.requestClass(Field.requestClass)
        stream = try params.bool(Field.stream)
        format = try ModelOptions.format(params, Field.format)
        think = try ModelOptions.think(params, Field.think)
        messages = try Self.messages(params)
        tools = params.value(Field.tools)
        switch tools {
        case nil, .array?: break
        case let other?: throw params.fail("'tools' must be a list of tool definitions, not \(other.typeName)")
        }
    }

    static func messages(_ params: ParamsReader) throws(RPCErrorPayload) -> [ChatMessage] {
        guard case .array(let items)? = params.value(Field.messages), !items.isEmpty else {
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

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = .string(model)
        writer[.messages] = .array(messages.map(\.json))
        writer[.format] = format
        writer[.tools] = tools
        writer[.think] = think
        if !options.isEmpty { writer[.options] = .object(options) }
        writer[.stream] = stream.map(JSONValue.bool)
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// `embed`: `{"model", "input", "truncate"?, "dimensions"?, "options"?, "class"?}`.
public struct EmbedParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case model, input, truncate, dimensions, options, requestClass = "class" }

    public var model: String
    public var input: [String]
    public var truncate: Bool?
    public var dimensions: Int?
    public var options: [String: JSONValue] = [:]
    public var requestClass: JobClass = .interactive

    public init(model: String, input: [String]) {
        self.model = model
        self.input = input
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.requiredString(Field.model)
        guard let input = try params.strings(Field.input), !input.isEmpty, !input.allSatisfy(\.isEmpty) else {
            throw params.fail("'input' is required: a string or a list of strings")
        }
        self.input = input
        truncate = try params.bool(Field.truncate)
        dimensions = try params.integer(Field.dimensions)
        if let dimensions, dimensions < 1 { throw params.fail("'dimensions' must be a positive integer, not \(dimensions)") }
        options = try ModelOptions.read(params, Field.options)
        requestClass = try params.requestClass(Field.requestClass)
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = .string(model)
        writer[.input] = .array(input.map(JSONValue.string))
        writer[.truncate] = truncate.map(JSONValue.bool)
        writer[.dimensions] = dimensions.map { .number(Double($0)) }
        if !options.isEmpty { writer[.options] = .object(options) }
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// Checks of what Ollama would otherwise refuse only after scheduling (answering 500 once the
/// model was loaded and others evicted).
enum ModelOptions {
    static let numeric = ["temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                          "frequency_penalty", "num_ctx", "num_predict", "top_k", "seed", "num_batch", "num_gpu",
                          "num_thread", "repeat_last_n", "main_gpu", "num_keep", "mirostat", "mirostat_eta",
                          "mirostat_tau"]

    /// Ollama's model options: numbers where Ollama wants numbers, `stop` a string or strings.
    static func read(_ params: ParamsReader, _ field: some ParamField) throws(RPCErrorPayload) -> [String: JSONValue] {
        guard let value = params.value(field) else { return [:] }
        guard let options = value.objectValue else { throw params.fail("'options' must be an object like {\"temperature\": 0.2}, not \(value.typeName)") }
        for (key, option) in options.sorted(by: { $0.key < $1.key }) {
            if numeric.contains(key), case .number = option {} else if numeric.contains(key) {
                throw params.fail("option '\(key)' must be a number, not \(option.typeName)")
            }
            if key == "stop" {
                switch option {
                case .string: break
                case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): break
                default: throw params.fail("option 'stop' must be a string or a list of strings")
                }
            }
        }
        return options
    }

    /// Ollama takes `"json"` or a JSON schema (an object).
    static func format(_ params: ParamsReader, _ field: some ParamField) throws(RPCErrorPayload) -> JSONValue? {
        switch params.value(field) {
        case nil: return nil
        case .string("json")?, .object?: return params.value(field)
        case let other?: throw params.fail("'format' must be \"json\" or a JSON schema object, not \(ParamsReader.describe(other))")
        }
    }

    /// true / false, or a level for the models that take one ("high", "medium", "low").
    static func think(_ params: ParamsReader, _ field: some ParamField) throws(RPCErrorPayload) -> JSONValue? {
        switch params.value(field) {
        case nil: return nil
        case .bool?: return params.value(field)
        case .string(let level)? where ["high", "medium", "low"].contains(level): return params.value(field)
        case let other?: throw params.fail("'think' must be true, false, \"high\", \"medium\" or \"low\", not \(ParamsReader.describe(other))")
        }
    }
}
