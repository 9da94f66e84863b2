import BackendHTTP
import Foundation
import GPUCtlModels
import NIOCore
import NIOHTTP1
import OllamaClient

extension OllamaDoor {
    /// `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`: translated to Ollama's
    /// request, arbitrated like Ollama's own endpoints, and answered in OpenAI's shapes (SSE
    /// when streamed, ending with `data: [DONE]`).
    func openAI(_ endpoint: DoorRoute.OpenAIEndpoint, _ request: DoorRequest, _ response: DoorResponse) async {
        guard let body = try? JSONParser.parse(request.body.readableBytesView).objectValue else {
            return await sendOpenAIError(response, status: 400, message: request.body.readableBytes == 0
                ? "missing request body" : "the request body is not a JSON object")
        }
        let translated: [String: JSONValue]
        var stream = false
        do {
            switch endpoint {
            case .chat: (translated, stream) = try OpenAITranslation.chatRequest(body)
            case .completions: (translated, stream) = try OpenAITranslation.completionRequest(body)
            case .embeddings: translated = try OpenAITranslation.embeddingsRequest(body)
            }
        } catch {
            return await sendOpenAIError(response, status: 400, message: error.message)
        }
        let includeUsage = body["stream_options"]?["include_usage"] == .bool(true)
        let reply = OpenAITranslation.Reply(prefix: endpoint == .chat ? "chatcmpl" : "cmpl", includeUsage: includeUsage)
        let native: DoorRoute.NativeEndpoint = switch endpoint {
        case .chat: .chat
        case .completions: .generate
        case .embeddings: .embed
        }
        let answer = OpenAIAnswer(endpoint: endpoint, stream: stream, reply: reply,
                                  encodingFormat: body["encoding_format"]?.stringValue, requestedModel: body["model"]?.stringValue ?? "")
        guard let call = DoorCall(native, body: translated) else {
            return await callOllama(native, body: translated, answer: answer, response)
        }
        let outcome = await arbitrate(call.model, request: request, intent: .infer) { admission in
            var rewritten = translated
            _ = await applyPolicy(to: &rewritten, call: call, model: admission?.model ?? call.model)
            await callOllama(native, body: rewritten, answer: answer, response)
        }
        switch outcome {
        case .refused(let status, let message): await sendOpenAIError(response, status: Int(status.code), message: message)
        case .notArbitrated: await callOllama(native, body: translated, answer: answer, response)
        case .served: break
        }
    }

    /// `GET /v1/models` from Ollama's `/api/tags`; `GET /v1/models/{id}` from `/api/show`.
    func openAIModels(id: String?, _ request: DoorRequest, _ response: DoorResponse) async {
        do {
            let value: JSONValue
            if let id {
                _ = try await upstream.post("/api/show", json: JSONWriter.data(.object(["model": .string(id)])),
                                            timeout: .seconds(30))
                value = OpenAITranslation.model(id: id)
            } else {
                let tags = try await upstream.send(method: .GET, path: "/api/tags", body: nil, timeout: .seconds(30))
                value = OpenAITranslation.modelList((try? JSONParser.parse(tags).objectValue) ?? [:])
            }
            await sendOpenAIJSON(response, value)
        } catch {
            await sendOpenAIFailure(response, error, path: id == nil ? "/api/tags" : "/api/show")
        }
    }

    /// Sends the translated request to Ollama and answers the client in OpenAI's shape.
    private func callOllama(_ native: DoorRoute.NativeEndpoint, body: [String: JSONValue], answer: OpenAIAnswer,
                            _ response: DoorResponse) async {
        let json = JSONWriter.data(.object(body))
        do {
            if native == .embed {
                let data = try await upstream.post(native.rawValue, json: json, timeout: settings.inferenceTimeouts.total)
                let reply = (try? JSONParser.parse(data).objectValue) ?? [:]
                return await sendOpenAIJSON(response, OpenAITranslation.embeddingList(
                    model: answer.requestedModel, reply, encodingFormat: answer.encodingFormat))
            }
            let state = OpenAIStreamState()
            try await upstream.postStreaming(native.rawValue, json: json, timeouts: settings.inferenceTimeouts,
                                             on: response.eventLoop, onTimeout: { response.abort() }) { line in
                guard let object = try? JSONParser.parse(line.readableBytesView).objectValue else { return nil }
                return answer.relay(object, state: state, to: response)
            }
            if !answer.stream, state.final == nil {
                return await sendOpenAIError(response, status: 500,
                                             message: state.error ?? "Ollama ended its answer without a final line")
            }
            if !answer.stream, let final = state.final {
                let value = native == .chat
                    ? OpenAITranslation.chatCompletion(content: state.content, thinking: state.thinking, toolCalls: state.toolCalls,
                                                       final: final, reply: answer.reply)
                    : OpenAITranslation.completion(text: state.content, final: final, reply: answer.reply)
                await sendOpenAIJSON(response, value)
            }
        } catch {
            guard !Task.isCancelled else { return response.abort() }
            if response.headSent {
                let failure = OllamaError.wrapping(error, ollamaEndpoint: native.rawValue)
                _ = try? await response.writeBody(OpenAITranslation.event(
                    OpenAITranslation.error(status: 500, message: RPCErrorPayload(failure).message))).get()
            } else {
                await sendOpenAIFailure(response, error, path: native.rawValue)
            }
        }
    }

    /// An Ollama error answer keeps its status and text; an unreachable Ollama is a 502.
    private func sendOpenAIFailure(_ response: DoorResponse, _ error: Error, path: String) async {
        let failure = OllamaError.wrapping(error, ollamaEndpoint: path)
        if let failure = failure as? OllamaError, failure.kind == .http, let status = failure.status {
            return await sendOpenAIError(response, status: status, message: failure.message)
        }
        await sendOpenAIError(response, status: Int(Self.status(ofUpstream: failure).code), message: RPCErrorPayload(failure).message)
    }

    func sendOpenAIError(_ response: DoorResponse, status: Int, message: String) async {
        await sendOpenAIJSON(response, OpenAITranslation.error(status: status, message: message),
                             status: HTTPResponseStatus(statusCode: status))
    }

    /// One JSON object with a trailing newline, as Go's json.Encoder writes Ollama's `/v1` answers.
    private func sendOpenAIJSON(_ response: DoorResponse, _ value: JSONValue, status: HTTPResponseStatus = .ok) async {
        var body = ByteBuffer(bytes: JSONWriter.data(value))
        body.writeString("\n")
        await response.send(status: status, contentType: "application/json", body: body)
    }
}

/// How one OpenAI request is answered.
struct OpenAIAnswer: Sendable {
    let endpoint: DoorRoute.OpenAIEndpoint
    let stream: Bool
    let reply: OpenAITranslation.Reply
    let encodingFormat: String?
    let requestedModel: String

    /// One Ollama line: sent on as an SSE chunk when streaming, else gathered.
    func relay(_ line: [String: JSONValue], state: OpenAIStreamState, to response: DoorResponse) -> EventLoopFuture<Void>? {
        if let message = line["error"]?.stringValue {
            // Ollama failed after it had started: the stream carries the error and ends.
            guard stream else {
                state.error = message
                return nil
            }
            return write(OpenAITranslation.event(OpenAITranslation.error(status: 500, message: message)), to: response)
        }
        let done = line["done"] == .bool(true)
        let object = endpoint == .chat ? "chat.completion.chunk" : "text_completion"
        guard stream else {
            state.gather(line, chat: endpoint == .chat)
            return nil
        }
        var toolCallSent = state.toolCallSent
        var events = endpoint == .chat
            ? OpenAITranslation.event(OpenAITranslation.chatChunk(line, reply: reply, toolCallSent: &toolCallSent))
            : OpenAITranslation.event(OpenAITranslation.completionChunk(line, reply: reply))
        state.toolCallSent = toolCallSent
        if done {
            if reply.includeUsage {
                var usage = OpenAITranslation.event(OpenAITranslation.usageChunk(line, reply: reply, object: object))
                events.writeBuffer(&usage)
            }
            var end = OpenAITranslation.done
            events.writeBuffer(&end)
        }
        return write(events, to: response)
    }

    private func write(_ buffer: ByteBuffer, to response: DoorResponse) -> EventLoopFuture<Void> {
        response.sendHead(status: .ok, headers: HTTPHeaders([("Content-Type", "text/event-stream")]))
        return response.relayWrite(buffer) ?? response.eventLoop.makeSucceededVoidFuture()
    }
}

/// What a non-streamed OpenAI answer gathers from Ollama's lines (touched on one event loop).
final class OpenAIStreamState: @unchecked Sendable {
    var content = ""
    var thinking = ""
    var toolCalls: [JSONValue] = []
    var toolCallSent = false
    var final: [String: JSONValue]?
    var error: String?

    func gather(_ line: [String: JSONValue], chat: Bool) {
        if chat {
            content += line["message"]?["content"]?.stringValue ?? ""
            thinking += line["message"]?["thinking"]?.stringValue ?? ""
            toolCalls += OpenAITranslation.toolCalls(line["message"]?["tool_calls"])
        } else {
            content += line["response"]?.stringValue ?? ""
        }
        if line["done"] == .bool(true) { final = line }
    }
}
