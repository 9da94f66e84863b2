import BackendHTTP
import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers
import NIOCore

extension OllamaClient {
    /// `generate`, read on `eventLoop`: `onChunk` is called on that loop for each chunk the
    /// moment it is read, and a future it returns holds back reading until it completes. For a
    /// relay whose own socket lives on that loop: no thread hand-off per chunk. Limits,
    /// retries, errors and cancellation are those of `generate(_:consume:)`.
    public func generate(_ request: GenerateRequest, on eventLoop: any EventLoop,
                         onChunk: @escaping @Sendable (InferenceChunk) throws -> EventLoopFuture<Void>?) async throws {
        try await streamed("/api/generate", body: request.body, on: eventLoop, onChunk: onChunk)
    }

    /// `chat`, read on `eventLoop` like `generate(_:on:onChunk:)`.
    public func chat(_ request: ChatRequest, on eventLoop: any EventLoop,
                     onChunk: @escaping @Sendable (InferenceChunk) throws -> EventLoopFuture<Void>?) async throws {
        try await streamed("/api/chat", body: request.body, on: eventLoop, onChunk: onChunk)
    }

    private func streamed(_ path: String, body: JSONValue, on eventLoop: any EventLoop,
                          onChunk: @escaping @Sendable (InferenceChunk) throws -> EventLoopFuture<Void>?) async throws {
        let json = JSONWriter.data(body)
        let endpoint = baseURL + path
        let sawDone = NIOLockedValueBox(false)
        try await retryingRefused(endpoint) {
            try await http.postStreaming(path, json: json, timeouts: streamTimeouts, on: eventLoop) { line in
                let chunk = try InferenceStream.chunk(from: line, endpoint: endpoint)
                if chunk.done { sawDone.withLockedValue { $0 = true } }
                return try onChunk(chunk)
            }
        }
        guard sawDone.withLockedValue({ $0 }) else {
            throw OllamaError(kind: .interrupted, status: nil, message: "Ollama's answer from \(endpoint) ended before it was done")
        }
    }
}
