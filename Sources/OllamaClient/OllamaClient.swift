import AsyncHTTPClient
import BackendHTTP
import Foundation
import Logging

/// A failed Ollama call: Ollama's own message and status when it answered, else why it could not be reached.
public struct OllamaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable, timeout, http, decoding
    }

    public var kind: Kind
    /// HTTP status when Ollama answered.
    public var status: Int?
    public var message: String

    public var description: String { message }

    init(_ failure: HTTPCallFailure, endpoint: String) {
        switch failure {
        case .unreachable(let reason):
            self.init(kind: .unreachable, status: nil, message: "Ollama is unreachable (\(reason)) at \(endpoint)")
        case .timedOut(let seconds):
            self.init(kind: .timeout, status: nil, message: "Ollama did not answer \(endpoint) within \(seconds) s")
        case .status(let code, let body):
            // Ollama's errors are {"error":"..."}; unknown routes are plain text.
            let text = (try? JSONDecoder().decode([String: String].self, from: Data(body.utf8)))?["error"] ?? body
            self.init(kind: .http, status: code, message: text.trimmingCharacters(in: .whitespacesAndNewlines))
        case .undecodable(let detail):
            self.init(kind: .decoding, status: nil, message: "Ollama's answer to \(endpoint) was not understood (\(detail))")
        }
    }

    public init(kind: Kind, status: Int?, message: String) {
        self.kind = kind
        self.status = status
        self.message = message
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
            throw OllamaError(error, endpoint: "\(baseURL)/api/version")
        }
    }

    /// `GET /api/ps`: the models loaded now.
    public func runningModels() async throws(OllamaError) -> [RunningModel] {
        struct Reply: Decodable { var models: [RunningModel] }
        do {
            return try await http.get("/api/ps", as: Reply.self, timeout: quickTimeout).models
        } catch {
            throw OllamaError(error, endpoint: "\(baseURL)/api/ps")
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
