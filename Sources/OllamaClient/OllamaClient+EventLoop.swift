import BackendHTTP
import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers
import NIOCore

extension OllamaClient {
    /// `POST /api/generate`, streamed into `sink`: `onChunk` is called on the sink's event loop
    /// for each chunk the moment it is read (the last has `done` set), and reading waits for
    /// the sink's latest write (backpressure). A line `{"error":…}` (Ollama's failure after
    /// streaming started) is thrown as an OllamaError; an answer that ends without `done` is
    /// thrown as interrupted; cancelling the caller cancels the request upstream.
    public func generate(_ request: GenerateRequest, into sink: some RelaySink,
                         onChunk: @escaping @Sendable (InferenceChunk) throws -> Void) async throws {
        try await streamed("/api/generate", body: request.body, into: sink, onChunk: onChunk)
    }

    /// `POST /api/chat`, streamed like `generate(_:into:onChunk:)`.
    public func chat(_ request: ChatRequest, into sink: some RelaySink,
                     onChunk: @escaping @Sendable (InferenceChunk) throws -> Void) async throws {
        try await streamed("/api/chat", body: request.body, into: sink, onChunk: onChunk)
    }

    private func streamed(_ path: String, body: JSONValue, into sink: some RelaySink,
                          onChunk: @escaping @Sendable (InferenceChunk) throws -> Void) async throws {
        let json = JSONWriter.data(body)
        let endpoint = baseURL + path
        let sawDone = NIOLockedValueBox(false)
        try await retryingRefused(endpoint) {
            try await http.postStreaming(path, json: json, timeouts: streamTimeouts, on: sink.eventLoop,
                                         onTimeout: { sink.abandon() }) { line in
                let chunk = try InferenceLine.chunk(from: line, endpoint: endpoint)
                if chunk.done { sawDone.withLockedValue { $0 = true } }
                try onChunk(chunk)
                return sink.backpressure()
            }
        }
        guard sawDone.withLockedValue({ $0 }) else {
            throw OllamaError(kind: .interrupted, status: nil, message: "Ollama's answer from \(endpoint) ended before it was done")
        }
    }

    /// A POST whose answer is one JSON object, read under the stream limits (it may wait for a
    /// load), through the same streaming path on one of the HTTP client's own loops.
    func single(_ path: String, body: JSONValue) async throws -> JSONValue {
        let json = JSONWriter.data(body)
        let endpoint = baseURL + path
        let last = NIOLockedValueBox<JSONValue?>(nil)
        try await retryingRefused(endpoint) {
            try await http.postStreaming(path, json: json, timeouts: streamTimeouts, on: http.http.eventLoopGroup.any()) { line in
                let value = try InferenceLine.parse(line, endpoint: endpoint)
                if let message = value["error"]?.stringValue {
                    throw OllamaError(kind: .http, status: 200, message: message)
                }
                last.withLockedValue { $0 = value }
                return nil
            }
        }
        guard let value = last.withLockedValue({ $0 }) else {
            throw OllamaError(kind: .decoding, status: nil, message: "Ollama sent an empty answer to \(endpoint)")
        }
        return value
    }
}

/// One line of a streamed answer.
enum InferenceLine {
    /// The line as a chunk; `{"error":…}` (Ollama's failure after streaming started) is thrown.
    static func chunk(from line: ByteBuffer, endpoint: String) throws -> InferenceChunk {
        let value = try parse(line, endpoint: endpoint)
        if let message = value["error"]?.stringValue {
            throw OllamaError(kind: .http, status: 200, message: message)
        }
        guard let chunk = InferenceChunk(value) else {
            throw OllamaError(kind: .decoding, status: nil, message: "Ollama sent a chunk without text to \(endpoint)")
        }
        return chunk
    }

    static func parse(_ line: ByteBuffer, endpoint: String) throws -> JSONValue {
        do {
            return try JSONParser.parse(line.readableBytesView)
        } catch {
            throw OllamaError(kind: .decoding, status: nil, message: "Ollama sent a line that is not JSON to \(endpoint) (\(error))")
        }
    }
}
