import BackendHTTP
import Foundation
import GPUCtlModels
import NIOCore

extension OllamaClient {
    /// `POST /api/embed`: one vector per input.
    public func embed(_ request: EmbedRequest) async throws -> EmbedResponse {
        let reply = try await single("/api/embed", body: request.body)
        guard case .array(let rows)? = reply["embeddings"] else {
            throw OllamaError(kind: .decoding, status: nil, message: "Ollama's answer to \(baseURL)/api/embed has no embeddings")
        }
        let embeddings = rows.map { row -> [Double] in
            guard case .array(let values) = row else { return [] }
            return values.map { if case .number(let number) = $0 { number } else { .nan } }
        }
        return EmbedResponse(model: reply["model"]?.stringValue ?? request.model, embeddings: embeddings,
                             metrics: OllamaMetrics(reply))
    }

    /// `POST /api/embeddings` (legacy): one vector, not normalised.
    public func legacyEmbedding(model: String, prompt: String, options: [String: JSONValue] = [:]) async throws -> [Double] {
        var body: [String: JSONValue] = ["model": .string(model), "prompt": .string(prompt)]
        if !options.isEmpty { body["options"] = .object(options) }
        let reply = try await single("/api/embeddings", body: .object(body))
        guard case .array(let values)? = reply["embedding"] else {
            throw OllamaError(kind: .decoding, status: nil, message: "Ollama's answer to \(baseURL)/api/embeddings has no embedding")
        }
        return values.map { if case .number(let number) = $0 { number } else { .nan } }
    }

    /// Loads `model` without generating anything (an empty prompt, or empty input for an
    /// embedding-only model), with the catalog's runner options so that later requests with
    /// the same options do not make Ollama reload it. Returns once the runner is up.
    public func load(_ model: String, keepAlive: JSONValue?, options: [String: JSONValue], embeddingOnly: Bool) async throws {
        var body: [String: JSONValue] = ["model": .string(model)]
        body["keep_alive"] = keepAlive
        if !options.isEmpty { body["options"] = .object(options) }
        if embeddingOnly {
            body["input"] = .array([])
            _ = try await single("/api/embed", body: .object(body))
        } else {
            let reply = try await single("/api/generate", body: .object(body))
            if let reason = reply["done_reason"]?.stringValue, reason != "load" {
                throw OllamaError(kind: .decoding, status: nil, message: "Ollama answered a load of \(model) with done_reason '\(reason)' instead of 'load'")
            }
        }
    }

    /// Asks Ollama to unload `model` (`keep_alive: 0`). Ollama answers at once and stops the
    /// runner later, once its requests have finished: watch `/api/ps` to know when it is gone.
    public func unload(_ model: String) async throws(OllamaError) {
        let body = JSONWriter.data(.object(["model": .string(model), "keep_alive": .number(0)]))
        do {
            _ = try await retry.run({ () async throws(HTTPCallFailure) -> Data in
                try await http.post("/api/generate", json: body, timeout: quickTimeout)
            }, shouldRetry: \.isConnectionRefused)
        } catch {
            throw OllamaError(error, ollamaEndpoint: "\(baseURL)/api/generate")
        }
    }

    /// Runs `call`, again after a backoff while the connection is refused (nothing was sent,
    /// so repeating is safe); its failures come out as OllamaErrors.
    func retryingRefused<Result>(_ endpoint: String, _ call: () async throws -> Result) async throws -> Result {
        var attempt = 1
        while true {
            do {
                return try await call()
            } catch let failure as HTTPCallFailure where failure.isConnectionRefused && attempt < retry.attempts {
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
                attempt += 1
            } catch {
                throw OllamaError.wrapping(error, ollamaEndpoint: endpoint)
            }
        }
    }
}
