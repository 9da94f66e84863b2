import Foundation
import GPUCtlModels
import NIOCore

extension OpenAITranslation {
    /// What every reply of one request carries: its id, its creation time, and whether the
    /// client asked for a usage chunk at the end of a stream.
    struct Reply: Sendable {
        var id: String
        var created: Int
        var includeUsage: Bool

        init(prefix: String, includeUsage: Bool, now: Date = Date()) {
            id = "\(prefix)-\(Int.random(in: 0..<999))"
            created = Int(now.timeIntervalSince1970)
            self.includeUsage = includeUsage
        }
    }

    /// An SSE event: `data: JSON` and a blank line.
    static func event(_ value: JSONValue) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(JSONWriter.data(value))
        buffer.writeString("\n\n")
        return buffer
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// OpenAI's error object, with the type Ollama gives each status.
    static func error(status: Int, message: String) -> JSONValue {
        let type = switch status {
        case 400: "invalid_request_error"
        case 404: "not_found_error"
        default: "api_error"
        }
        return .object(["error": .object(["message": .string(message), "type": .string(type), "param": .null, "code": .null])])
    }

    static func usage(_ line: [String: JSONValue]) -> JSONValue {
        let prompt = line["prompt_eval_count"]?.numberValue ?? 0
        let completion = line["eval_count"]?.numberValue ?? 0
        return .object(["prompt_tokens": .number(prompt), "completion_tokens": .number(completion),
                        "total_tokens": .number(prompt + completion)])
    }

    private static func finishReason(_ line: [String: JSONValue], toolCalls: Bool) -> JSONValue {
        guard let reason = line["done_reason"]?.stringValue, !reason.isEmpty else { return .null }
        return .string(toolCalls ? "tool_calls" : reason)
    }

    /// Ollama's tool calls as OpenAI writes them (arguments as a JSON string).
    static func toolCalls(_ value: JSONValue?) -> [JSONValue] {
        guard case .array(let calls)? = value else { return [] }
        return calls.map { call in
            let function = call["function"]
            let arguments = function?["arguments"].map { String(decoding: JSONWriter.data($0), as: UTF8.self) } ?? "{}"
            return .object(["id": call["id"] ?? .string(""), "index": function?["index"] ?? .number(0), "type": .string("function"),
                            "function": .object(["name": function?["name"] ?? .string(""), "arguments": .string(arguments)])])
        }
    }

    /// One `/api/chat` line as a `chat.completion.chunk`.
    static func chatChunk(_ line: [String: JSONValue], reply: Reply, toolCallSent: inout Bool) -> JSONValue {
        let message = line["message"]
        var delta: [String: JSONValue] = ["role": .string("assistant"), "content": message?["content"] ?? .string("")]
        if let thinking = message?["thinking"]?.stringValue, !thinking.isEmpty { delta["reasoning"] = .string(thinking) }
        let calls = toolCalls(message?["tool_calls"])
        if !calls.isEmpty {
            delta["tool_calls"] = .array(calls)
            toolCallSent = true
        }
        return chunk(line, reply: reply, object: "chat.completion.chunk",
                     choice: ["index": .number(0), "delta": .object(delta),
                              "finish_reason": finishReason(line, toolCalls: toolCallSent)])
    }

    /// One `/api/generate` line as a `text_completion` chunk.
    static func completionChunk(_ line: [String: JSONValue], reply: Reply) -> JSONValue {
        chunk(line, reply: reply, object: "text_completion",
              choice: ["text": line["response"] ?? .string(""), "index": .number(0),
                       "finish_reason": finishReason(line, toolCalls: false)])
    }

    /// The chunk that carries the usage at the end of a stream (no choices).
    static func usageChunk(_ line: [String: JSONValue], reply: Reply, object: String) -> JSONValue {
        guard case .object(var members) = chunk(line, reply: reply, object: object, choice: [:]) else { return .null }
        members["choices"] = .array([])
        members["usage"] = usage(line)
        return .object(members)
    }

    private static func chunk(_ line: [String: JSONValue], reply: Reply, object: String,
                              choice: [String: JSONValue]) -> JSONValue {
        .object(["id": .string(reply.id), "object": .string(object), "created": .number(Double(reply.created)),
                 "model": line["model"] ?? .string(""), "system_fingerprint": .string("fp_ollama"),
                 "choices": .array([.object(choice)])])
    }

    /// A whole `chat.completion` from the gathered text and the final line.
    static func chatCompletion(content: String, thinking: String, toolCalls calls: [JSONValue],
                               final line: [String: JSONValue], reply: Reply) -> JSONValue {
        var message: [String: JSONValue] = ["role": .string("assistant"), "content": .string(content)]
        if !thinking.isEmpty { message["reasoning"] = .string(thinking) }
        if !calls.isEmpty { message["tool_calls"] = .array(calls) }
        return .object(["id": .string(reply.id), "object": .string("chat.completion"), "created": .number(Double(reply.created)),
                        "model": line["model"] ?? .string(""), "system_fingerprint": .string("fp_ollama"),
                        "choices": .array([.object(["index": .number(0), "message": .object(message),
                                                    "finish_reason": finishReason(line, toolCalls: !calls.isEmpty)])]),
                        "usage": usage(line)])
    }

    /// A whole `text_completion`.
    static func completion(text: String, final line: [String: JSONValue], reply: Reply) -> JSONValue {
        .object(["id": .string(reply.id), "object": .string("text_completion"), "created": .number(Double(reply.created)),
                 "model": line["model"] ?? .string(""), "system_fingerprint": .string("fp_ollama"),
                 "choices": .array([.object(["text": .string(text), "index": .number(0),
                                             "finish_reason": finishReason(line, toolCalls: false)])]),
                 "usage": usage(line)])
    }

    /// `/api/embed`'s reply as an embedding list (`base64`: little-endian float32, as OpenAI sends).
    static func embeddingList(model: String, _ reply: [String: JSONValue], encodingFormat: String?) -> JSONValue {
        guard case .array(let vectors)? = reply["embeddings"] else { return .object([:]) }
        let base64 = encodingFormat?.lowercased() == "base64"
        let data: [JSONValue] = vectors.enumerated().map { index, vector in
            var embedding = vector
            if base64, case .array(let values) = vector {
                var bytes = Data(capacity: values.count * 4)
                for value in values {
                    withUnsafeBytes(of: Float(value.numberValue ?? 0).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
                embedding = .string(bytes.base64EncodedString())
            }
            return .object(["object": .string("embedding"), "embedding": embedding, "index": .number(Double(index))])
        }
        let tokens = reply["prompt_eval_count"] ?? .number(0)
        return .object(["object": .string("list"), "data": .array(data), "model": .string(model),
                        "usage": .object(["prompt_tokens": tokens, "total_tokens": tokens])])
    }

    /// `/api/tags` as a model list; `/api/show` of one as a model.
    static func modelList(_ tags: [String: JSONValue]) -> JSONValue {
        guard case .array(let models)? = tags["models"] else { return .object(["object": .string("list"), "data": .array([])]) }
        return .object(["object": .string("list"), "data": .array(models.compactMap { entry in
            entry["name"]?.stringValue.map { model(id: $0) }
        })])
    }

    static func model(id: String) -> JSONValue {
        // Ollama's owner is the name's namespace: "library" unless the name has one.
        let parts = id.split(separator: "/")
        let owner = parts.count >= 2 ? String(parts[parts.count - 2]) : "library"
        return .object(["id": .string(id), "object": .string("model"), "created": .number(Double(Int(Date().timeIntervalSince1970))),
                        "owned_by": .string(owner)])
    }
}
