import AsyncHTTPClient
@_exported import BackendHTTP
import Foundation
import Logging

/// A failed Ollama call; its message is Ollama's own `error` text when Ollama answered.
public typealias OllamaError = BackendError

extension BackendError {
    init(_ failure: HTTPCallFailure, ollamaEndpoint endpoint: String) {
        self.init(failure, backend: "Ollama", endpoint: endpoint) { _, body in
            // Ollama's errors are {"error":"..."}; unknown routes are plain text.
            let text = (try? JSONDecoder().decode([String: String].self, from: Data(body.utf8)))?["error"] ?? body
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

/// Ollama's HTTP API. Knows nothing of gpuctl.
public struct OllamaClient: Sendable {
    private let http: JSONHTTPClient
    /// Deadline of quick calls (version, ps, tags).
    public var quickTimeout: Duration

    public init(baseURL: String, httpClient: HTTPClient, quickTimeout: Duration = .seconds(2), logger: Logger) {
        self.http = JSONHTTPClient(baseURL: baseURL, http: httpClient, logger: logger)
        self.quickTimeout = quickTimeout
    }

    public var baseURL: String { http.baseURL }

    /// `GET /api/version`.
    public func version() async throws(OllamaError) -> String {
        struct Reply: Decodable { var version: String }
        do {
            return try await http.get("/api/version", as: Reply.self, timeout: quickTimeout).version
        } catch {
            throw OllamaError(error, ollamaEndpoint: "\(baseURL)/api/version")
        }
    }

    /// `GET /api/ps`: the models loaded now.
    public func runningModels() async throws(OllamaError) -> [RunningModel] {
        struct Reply: Decodable { var models: [RunningModel] }
        do {
            return try await http.get("/api/ps", as: Reply.self, timeout: quickTimeout).models
        } catch {
            throw OllamaError(error, ollamaEndpoint: "\(baseURL)/api/ps")
        }
    }
}

/// One entry of `/api/ps`.
public struct RunningModel: Sendable, Equatable, Codable {
    public var name: String
    public var model: String
    /// Bytes the runner uses in all.
    public var size: UInt64
    /// Bytes of it on the GPU.
    public var sizeVRAM: UInt64
    /// RFC 3339, with Ollama's local offset.
    public var expiresAt: String?
    public var contextLength: Int?

    enum CodingKeys: String, CodingKey {
        case name, model, size, sizeVRAM = "size_vram", expiresAt = "expires_at", contextLength = "context_length"
    }

    public init(name: String, model: String, size: UInt64, sizeVRAM: UInt64, expiresAt: String?, contextLength: Int?) {
        self.name = name
        self.model = model
        self.size = size
        self.sizeVRAM = sizeVRAM
        self.expiresAt = expiresAt
        self.contextLength = contextLength
    }
}
