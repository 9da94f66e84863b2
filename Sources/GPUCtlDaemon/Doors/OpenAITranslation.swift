import Foundation
import GPUCtlModels

/// OpenAI's request and reply shapes to Ollama's and back, as Ollama's own `/v1` layer maps
/// them (ollama/ollama `openai/openai.go`, `middleware/openai.go`). Pure: JSON in, JSON out.
enum OpenAITranslation {
    /// A request that cannot be translated: 400 with this sentence.
    struct Invalid: Error, Equatable {
        let message: String
    }

    /// `POST /v1/chat/completions` → `/api/chat` (always streamed from Ollama; `stream` says
    /// how the client is answered).
    static func chatRequest(_ body: [String: JSONValue]) throws(Invalid) -> (ollama: [String: JSONValue], stream: Bool) {
        guard case .array(let messages)? = body["messages"], !messages.isEmpty else {
            throw Invalid(message: "[] is too short - 'messages'")
        }
        var translated: [JSONValue] = []
        for message in messages {
            guard let object = message.objectValue, let role = object["role"]?.stringValue else {
                throw Invalid(message: "invalid message format")
            }
            translated += try self.message(role: role, object)
        }
        var request: [String: JSONValue] = ["model": body["model"] ?? .string(""), "messages": .array(translated),
                                            "options": .object(try options(body, chat: true)), "stream": .bool(true)]
        if let tools = body["tools"], tools != .null { request["tools"] = tools }
        if let format = format(body["response_format"]) { request["format"] = format }
        if let think = try think(body) { request["think"] = think }
        return (request, body["stream"] == .bool(true))
    }

    /// `POST /v1/completions` → `/api/generate`.
    static func completionRequest(_ body: [String: JSONValue]) throws(Invalid) -> (ollama: [String: JSONValue], stream: Bool) {
        var request: [String: JSONValue] = ["model": body["model"] ?? .string(""), "prompt": body["prompt"] ?? .string(""),
                                            "options": .object(try options(body, chat: false)), "stream": .bool(true)]
        if let suffix = body["suffix"]?.stringValue, !suffix.isEmpty { request["suffix"] = .string(suffix) }
        return (request, body["stream"] == .bool(true))
    }

    /// `POST /v1/embeddings` → `/api/embed`.
    static func embeddingsRequest(_ body: [String: JSONValue]) throws(Invalid) -> [String: JSONValue] {
        if let format = body["encoding_format"]?.stringValue, !["float", "base64"].contains(format.lowercased()) {
            throw Invalid(message: "Invalid value for 'encoding_format' = \(format). Supported values: ['float', 'base64'].")
        }
        var input = body["input"] ?? .null
        if input == .string("") { input = .array([.string("")]) }
        if input == .null || input == .array([]) { throw Invalid(message: "invalid input") }
        var request: [String: JSONValue] = ["model": body["model"] ?? .string(""), "input": input]
        if let dimensions = body["dimensions"], case .number(let value) = dimensions, value > 0 { request["dimensions"] = dimensions }
        return request
    }

    private static func message(role: String, _ object: [String: JSONValue]) throws(Invalid) -> [JSONValue] {
        var base: [String: JSONValue] = ["role": .string(role)]
        if let reasoning = object["reasoning"]?.stringValue { base["thinking"] = .string(reasoning) }
        if role.lowercased() == "tool", let name = object["name"]?.stringValue { base["tool_name"] = .string(name) }
        if case .array(let calls)? = object["tool_calls"] {
            base["tool_calls"] = .array(try calls.map { call throws(Invalid) in
                let function = call["function"]
                guard let arguments = function?["arguments"]?.stringValue,
                      let parsed = try? JSONParser.parse(Array(arguments.utf8)) else {
                    throw Invalid(message: "invalid tool call arguments")
                }
                return .object(["function": .object(["name": function?["name"] ?? .string(""), "arguments": parsed])])
            })
        }
        switch object["content"] {
        case .string(let text)?:
            base["content"] = .string(text)
            return [.object(base)]
        case .array(let parts)?:
            var out: [JSONValue] = []
            for part in parts {
                var piece = base
                switch part["type"]?.stringValue {
                case "text":
                    guard let text = part["text"]?.stringValue else { throw Invalid(message: "invalid message format") }
                    piece["content"] = .string(text)
                case "image_url":
                    guard let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue,
                          let data = imageData(url) else { throw Invalid(message: "invalid image input") }
                    piece["content"] = .string("")
                    piece["images"] = .array([.string(data)])
                default:
                    throw Invalid(message: "invalid message format")
                }
                out.append(.object(piece))
            }
            return out
        case nil, .null?:
            guard base["tool_calls"] != nil else { throw Invalid(message: "invalid message content type: <nil>") }
            base["content"] = .string("")
            return [.object(base)]
        default:
            throw Invalid(message: "invalid message format")
        }
    }

    /// The base64 of a data URL of a JPEG, PNG or WebP image (or an unadorned `data:;base64,`).
    private static func imageData(_ url: String) -> String? {
        for prefix in ["data:;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,", "data:image/png;base64,",
                       "data:image/webp;base64,"] where url.hasPrefix(prefix) {
            let data = String(url.dropFirst(prefix.count))
            return Data(base64Encoded: data) == nil ? nil : data
        }
        return nil
    }

    private static func options(_ body: [String: JSONValue], chat: Bool) throws(Invalid) -> [String: JSONValue] {
        var options: [String: JSONValue] = [:]
        switch body["stop"] {
        case .string(let stop)?: options["stop"] = .array([.string(stop)])
        case .array(let stops)?:
            guard stops.allSatisfy({ $0.stringValue != nil }) else { throw Invalid(message: "invalid type for 'stop' field") }
            options["stop"] = .array(stops)
        default: break
        }
        if let max = body["max_tokens"], max != .null { options["num_predict"] = max }
        options["temperature"] = body["temperature"].flatMap { $0 == .null ? nil : $0 } ?? .number(1)
        if let seed = body["seed"], seed != .null { options["seed"] = seed }
        for key in ["frequency_penalty", "presence_penalty"] {
            if let value = body[key], value != .null { options[key] = value } else if !chat { options[key] = .number(0) }
        }
        let topP = body["top_p"].flatMap { $0 == .null || $0 == .number(0) ? nil : $0 }
        options["top_p"] = topP ?? .number(1)
        return options
    }

    private static func format(_ value: JSONValue?) -> JSONValue? {
        switch value?["type"]?.stringValue?.lowercased().trimmingCharacters(in: .whitespaces) {
        case "json_object": .string("json")
        case "json_schema": value?["json_schema"]?["schema"]
        default: nil
        }
    }

    private static func think(_ body: [String: JSONValue]) throws(Invalid) -> JSONValue? {
        guard let effort = body["reasoning"]?["effort"]?.stringValue ?? body["reasoning_effort"]?.stringValue,
              !effort.isEmpty else { return nil }
        guard ["high", "medium", "low", "none"].contains(effort) else {
            throw Invalid(message: "invalid reasoning value: '\(effort)' (must be \"high\", \"medium\", \"low\", or \"none\")")
        }
        return effort == "none" ? .bool(false) : .string(effort)
    }
}
