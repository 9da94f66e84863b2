import Foundation
import GPUCtlModels
import Hummingbird
import NIOCore

extension FakeOllama {
    /// The POST endpoints, with Ollama's validation order and exact error strings (§6).
    struct InferenceHandlers: Sendable {
        let knobs: LockedBox<Knobs>
        let engine: Engine
        let chunkTimes: LockedBox<[ContinuousClock.Instant]>

        static let words = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "runs", "away"]
        static let floatOptions = ["temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                                   "frequency_penalty"]
        static let integerOptions = ["num_ctx", "num_predict", "top_k", "seed", "num_batch", "num_gpu", "num_thread",
                                     "repeat_last_n", "main_gpu"]

        /// Reads the body and runs `handler`; a `Failure` becomes Ollama's JSON error.
        func answer(_ request: Request, _ handler: @Sendable ([String: JSONValue]) async throws -> Response) async -> Response {
            var request = request
            do {
                let body = try await request.collectBody(upTo: 64 << 20)
                guard body.readableBytes > 0 else { throw Failure(status: 400, message: "missing request body") }
                let value: JSONValue
                do { value = try JSONParser.parse(body.readableBytesView) } catch {
                    throw Failure(status: 400, message: "invalid character in JSON: \(error)")
                }
                guard let object = value.objectValue else {
                    throw Failure(status: 400, message: "json: cannot unmarshal \(value.typeName) into Go value of type api.Request")
                }
                return try await handler(object)
            } catch let failure as Failure {
                return FakeOllama.error(failure)
            } catch {
                return FakeOllama.error(Failure(status: 500, message: "\(error)"))
            }
        }

        /// §7: absent or null → not set; a number of seconds (negative: forever); a Go duration string.
        static func keepAlive(_ value: JSONValue?) throws -> Double? {
            switch value {
            case nil, .null?: return nil
            case .number(let seconds)?: return seconds < 0 ? .infinity : seconds
            case .string(let text)?:
                if text.trimmingCharacters(in: .whitespaces).allSatisfy({ $0.isNumber || $0 == "-" }), text != "0" {
                    throw Failure(status: 400, message: "time: missing unit in duration \"\(text)\"")
                }
                guard let parsed = KeepAlive(parsing: text) else {
                    throw Failure(status: 400, message: "time: invalid duration \"\(text)\"")
                }
                if case .seconds(let seconds) = parsed { return seconds }
                return .infinity
            case let other?:
                throw Failure(status: 400, message: "Unsupported type: '\(other.typeName)'")
            }
        }

        /// A wrong option type fails at scheduling with 500, as Ollama's does.
        static func options(_ value: JSONValue?) throws -> [String: JSONValue] {
            guard let value, value != .null else { return [:] }
            guard let options = value.objectValue else {
                throw Failure(status: 400, message: "json: cannot unmarshal \(value.typeName) into Go struct field .options of type map[string]interface {}")
            }
            for (key, option) in options {
                let isNumber = if case .number = option { true } else { false }
                if floatOptions.contains(key), !isNumber {
                    throw Failure(status: 500, message: "option \"\(key)\" must be of type float32")
                }
                if integerOptions.contains(key), !isNumber {
                    throw Failure(status: 500, message: "option \"\(key)\" must be of type integer")
                }
            }
            return options
        }

        func generate(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? ""
            guard let model = await engine.model(named: name) else { throw Failure(status: 404, message: "model '\(name)' not found") }
            return try await answer(body, model: model, echo: name, chat: false, empty: (body["prompt"]?.stringValue ?? "").isEmpty)
        }

        func chat(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? ""
            guard !name.isEmpty else { throw Failure(status: 400, message: "model is required") }
            guard let model = await engine.model(named: name) else { throw Failure(status: 404, message: "model '\(name)' not found") }
            let messages: [JSONValue] = if case .array(let items)? = body["messages"] { items } else { [] }
            return try await answer(body, model: model, echo: name, chat: true, empty: messages.isEmpty)
        }

        /// generate and chat after their own checks, in Ollama's order: nothing to answer with
        /// keep_alive 0 unloads (before the capability check), nothing to answer loads, else stream.
        private func answer(_ body: [String: JSONValue], model: Model, echo name: String, chat: Bool,
                            empty: Bool) async throws -> Response {
            let keepAlive = try Self.keepAlive(body["keep_alive"])
            func reply(_ reason: String) -> Response {
                var object: [String: JSONValue] = ["model": .string(name), "created_at": .string(timestamp(Date(), utc: true)),
                                                   "done": true, "done_reason": .string(reason)]
                if chat { object["message"] = ["role": "assistant", "content": ""] } else { object["response"] = "" }
                return FakeOllama.object(object)
            }
            if empty, keepAlive == 0 {
                await engine.unload(model.name)
                return reply("unload")
            }
            guard model.capabilities.contains("completion") else {
                throw Failure(status: 400, message: "\"\(name)\" does not support \(chat ? "chat" : "generate")")
            }
            let options = try Self.options(body["options"])
            _ = try await engine.acquire(model, keepAlive: keepAlive, options: options)
            if empty {
                await engine.release(model.name, keepAlive: nil)
                return reply("load")
            }
            let prompt = chat ? body["messages"]?.arrayValue?.last?["content"]?.stringValue ?? "" : body["prompt"]?.stringValue ?? ""
            let scripted = knobs.value.script?(prompt, body["format"]) ?? FormattedAnswer.text(for: body["format"], words: Self.words)
            if body["stream"] == .bool(false) {
                return await whole(model: model, echo: name, options: options, chat: chat, scripted: scripted)
            }
            return await stream(model: model, echo: name, options: options, chat: chat, scripted: scripted)
        }

        /// `"stream": false`: the same answer as one object (`application/json`, no newline),
        /// its text the concatenation of the chunks; a failure mid-way is a plain error (§3).
        private func whole(model: Model, echo: String, options: [String: JSONValue], chat: Bool, scripted: String?) async -> Response {
            let (firstByteDelay, tokenDelay, tokens, failure) = knobs.mutate { knobs in
                defer { knobs.dropNextStreamAfter = nil; knobs.errorNextStreamAfter = nil }
                return (knobs.firstByteDelay, knobs.tokenDelay, knobs.tokens, knobs.errorNextStreamAfter)
            }
            var count = tokens
            if case .number(let limit)? = options["num_predict"], limit >= 0 { count = min(count, Int(limit)) }
            let started = ContinuousClock.now
            if firstByteDelay > .zero { try? await Task.sleep(for: firstByteDelay) }
            if tokenDelay > .zero { try? await Task.sleep(for: tokenDelay * count) }
            await engine.release(model.name, keepAlive: nil)
            if let failure { return FakeOllama.error(Failure(status: 500, message: failure.message)) }
            let text = scripted ?? (0..<count).map { index in
                let word = InferenceHandlers.words[index % InferenceHandlers.words.count]
                return index == 0 ? word : " \(word)"
            }.joined()
            var object = Self.finalChunk(echo: echo, count: count, tokens: tokens, chat: chat, elapsed: ContinuousClock.now - started)
            if chat { object["message"] = ["role": "assistant", "content": .string(text)] } else { object["response"] = .string(text) }
            return FakeOllama.object(object)
        }

        /// The last chunk's members: done, the reason and the numbers (text left to the caller).
        static func finalChunk(echo: String, count: Int, tokens: Int, chat: Bool, elapsed: Duration) -> [String: JSONValue] {
            let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            var object: [String: JSONValue] = [
                "model": .string(echo), "created_at": .string(timestamp(Date(), utc: true)), "done": true,
                "done_reason": .string(count < tokens ? "length" : "stop"),
                "total_duration": .number(nanoseconds.rounded() + 1_000_000), "load_duration": 1_000_000,
                "prompt_eval_count": 8, "prompt_eval_duration": 1_000_000, "eval_duration": .number(max(1, nanoseconds.rounded())),
            ]
            if count > 0 { object["eval_count"] = .number(Double(count)) }
            if !chat { object["context"] = [1, 2, 3] }
            return object
        }

        func embed(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? ""
            guard !name.isEmpty else { throw Failure(status: 404, message: "model '' not found") }
            guard let model = await engine.model(named: name) else {
                throw Failure(status: 404, message: "model \"\(name)\" not found, try pulling it first")
            }
            let keepAlive = try Self.keepAlive(body["keep_alive"])
            let inputs: [String]
            switch body["input"] {
            case nil, .null?: inputs = []
            case .string(let text)?: inputs = text.isEmpty ? [] : [text]
            case .array(let items)?:
                inputs = try items.map {
                    guard let text = $0.stringValue else { throw Failure(status: 400, message: "invalid input type") }
                    return text
                }
            default: throw Failure(status: 400, message: "invalid input type")
            }
            let options = try Self.options(body["options"])
            _ = try await engine.acquire(model, keepAlive: keepAlive, options: options)
            await engine.release(model.name, keepAlive: nil)
            guard !inputs.isEmpty else { return FakeOllama.object(["model": .string(name), "embeddings": []]) }
            var dimensions = model.embeddingLength
            if case .number(let wanted)? = body["dimensions"], Int(wanted) > 0 { dimensions = min(dimensions, Int(wanted)) }
            let vectors = inputs.map { JSONValue.array(Self.vector(for: $0, dimensions: dimensions, normalised: true).map(JSONValue.number)) }
            return FakeOllama.object(["model": .string(name), "embeddings": .array(vectors),
                                      "total_duration": 14_143_917, "load_duration": 1_019_500,
                                      "prompt_eval_count": .number(Double(inputs.count * 8))])
        }

        func legacyEmbeddings(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? ""
            guard !name.isEmpty else { throw Failure(status: 400, message: "model is required") }
            guard let model = await engine.model(named: name) else {
                throw Failure(status: 404, message: "model \"\(name)\" not found, try pulling it first")
            }
            let keepAlive = try Self.keepAlive(body["keep_alive"])
            _ = try await engine.acquire(model, keepAlive: keepAlive, options: try Self.options(body["options"]))
            await engine.release(model.name, keepAlive: nil)
            let prompt = body["prompt"]?.stringValue ?? ""
            let vector = prompt.isEmpty ? [] : Self.vector(for: prompt, dimensions: model.embeddingLength, normalised: false)
            return FakeOllama.object(["embedding": .array(vector.map(JSONValue.number))])
        }

        func show(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? body["name"]?.stringValue ?? ""
            guard !name.isEmpty else { throw Failure(status: 400, message: "model is required") }
            guard let model = await engine.model(named: name) else {
                throw Failure(status: 404, message: "model '\(FakeOllama.normalise(name))' not found")
            }
            return Response.json(["details": details(model), "capabilities": model.capabilities,
                                  "model_info": ["general.architecture": model.family,
                                                 "\(model.family).context_length": model.contextLength,
                                                 "\(model.family).embedding_length": model.embeddingLength] as [String: Any],
                                  "modified_at": timestamp(Date(), utc: false), "parameters": "stop \"<|eot_id|>\""])
        }

        /// Streams the answer, then counts the request done. Knobs decide delays and faults.
        private func stream(model: Model, echo: String, options: [String: JSONValue], chat: Bool, scripted: String?) async -> Response {
            let (firstByteDelay, tokenDelay, tokens, drop, failure, record) = knobs.mutate { knobs in
                defer { knobs.dropNextStreamAfter = nil; knobs.errorNextStreamAfter = nil }
                return (knobs.firstByteDelay, knobs.tokenDelay, knobs.tokens, knobs.dropNextStreamAfter,
                        knobs.errorNextStreamAfter, knobs.recordChunkTimes)
            }
            let padding = knobs.value.chunkBytes.map { String(repeating: "x", count: $0) } ?? ""
            let chunkTimes = self.chunkTimes
            var count = tokens
            if case .number(let limit)? = options["num_predict"], limit >= 0 { count = min(count, Int(limit)) }
            // A scripted answer goes out in pieces of 16 characters, as tokens would.
            let pieces: [String]? = scripted.map { text in
                stride(from: 0, to: text.count, by: 16).map { String(text.dropFirst($0).prefix(16)) }
            }
            if let pieces { count = pieces.count }
            if firstByteDelay > .zero { try? await Task.sleep(for: firstByteDelay) }
            let engine = self.engine
            let started = ContinuousClock.now
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { [count, pieces] writer in
                func line(_ text: String, done: Bool, extra: [String: JSONValue] = [:]) -> ByteBuffer {
                    var object: [String: JSONValue] = ["model": .string(echo), "created_at": .string(timestamp(Date(), utc: true)),
                                                       "done": .bool(done)]
                    if chat { object["message"] = ["role": "assistant", "content": .string(text)] } else { object["response"] = .string(text) }
                    for (key, value) in extra { object[key] = value }
                    var data = JSONWriter.data(.object(object))
                    data.append(UInt8(ascii: "\n"))
                    return ByteBuffer(bytes: data)
                }
                do {
                    for index in 0..<count {
                        if drop == index { throw Failure(status: 0, message: "connection dropped by the fake") }
                        if let failure, failure.chunks == index {
                            var data = JSONWriter.data(.object(["error": .string(failure.message)]))
                            data.append(UInt8(ascii: "\n"))
                            try await writer.write(ByteBuffer(bytes: data))
                            try await writer.finish(nil)
                            await engine.release(model.name, keepAlive: nil)
                            return
                        }
                        let word = InferenceHandlers.words[index % InferenceHandlers.words.count]
                        let text = pieces.map { $0[index] } ?? (index == 0 ? word : " \(word)")
                        let chunk = line(text + padding, done: false)
                        if record { chunkTimes.mutate { $0.append(.now) } }
                        try await writer.write(chunk)
                        if tokenDelay > .zero { try await Task.sleep(for: tokenDelay) }
                    }
                    let extra = InferenceHandlers.finalChunk(echo: echo, count: count, tokens: pieces == nil ? tokens : count, chat: chat,
                                                             elapsed: ContinuousClock.now - started)
                    try await writer.write(line("", done: true, extra: extra))
                    try await writer.finish(nil)
                    await engine.release(model.name, keepAlive: nil)
                } catch {
                    await engine.release(model.name, keepAlive: nil)
                    throw error
                }
            })
        }

        /// `/api/pull`: any name "downloads" (a 1 GiB model) with Ollama's progress lines.
        func pull(_ body: [String: JSONValue]) async throws -> Response {
            let name = body["model"]?.stringValue ?? body["name"]?.stringValue ?? ""
            guard !name.isEmpty else { throw Failure(status: 400, message: "model is required") }
            await engine.add(Model(name: FakeOllama.normalise(name), sizeBytes: 1 << 30, parameterSize: "1.1B"))
            guard body["stream"] != .bool(false) else { return FakeOllama.object(["status": "success"]) }
            let digest = "sha256:" + String(repeating: "b", count: 64)
            let lines: [JSONValue] = [
                ["status": "pulling manifest"],
                ["status": .string("pulling \(digest.suffix(12))"), "digest": .string(digest), "total": 1_073_741_824],
                ["status": .string("pulling \(digest.suffix(12))"), "digest": .string(digest), "total": 1_073_741_824,
                 "completed": 1_073_741_824],
                ["status": "verifying sha256 digest"], ["status": "writing manifest"], ["status": "success"],
            ]
            return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                for line in lines {
                    var data = JSONWriter.data(line)
                    data.append(UInt8(ascii: "\n"))
                    try await writer.write(ByteBuffer(bytes: data))
                }
                try await writer.finish(nil)
            })
        }

        /// A deterministic vector for `text`, as a bag of words: the sum of one pseudo-random vector per lowercased word, so texts
        /// that share words are near each other (what similarity-search tests need); a text of
        /// one word gets that word's vector.
        static func vector(for text: String, dimensions: Int, normalised: Bool) -> [Double] {
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
            var values = [Double](repeating: 0, count: dimensions)
            for word in words.isEmpty ? [text] : words {
                var seed = word.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
                for index in 0..<dimensions {
                    seed = seed &* 6364136223846793005 &+ 1442695040888963407
                    values[index] += Double(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1
                }
            }
            if normalised {
                let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 0 { values = values.map { $0 / norm } }
            }
            return values
        }
    }
}
