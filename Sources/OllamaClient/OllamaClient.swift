import AsyncHTTPClient
@_exported import BackendHTTP
import Foundation
import GPUCtlModels
import Logging

/// Ollama, as a `BackendError` names it.
public enum OllamaBackend: BackendIdentity {
    public static let name = "Ollama"
}

/// A failed Ollama call; its message is Ollama's own `error` text when Ollama answered.
public typealias OllamaError = BackendError<OllamaBackend>

extension BackendError where Backend == OllamaBackend {
    init(_ failure: HTTPCallFailure, ollamaEndpoint endpoint: String) {
        self.init(failure, endpoint: endpoint) { _, body in
            // Ollama's errors are {"error":"..."}; unknown routes are plain text.
            // A sentence, not a page: a body (up to the 16 MiB any answer may be) is cut.
            Self.sentence((try? JSONParser.parse(Array(body.utf8)))?["error"]?.stringValue ?? body)
        }
    }

    /// Anything a streamed call threw, as an OllamaError (cancellation stays cancellation).
    public static func wrapping(_ error: Error, ollamaEndpoint endpoint: String) -> Error {
        if let failure = error as? HTTPCallFailure { return OllamaError(failure, ollamaEndpoint: endpoint) }
        return error
    }
}

/// Ollama's HTTP API (../shared/reference/ollama-api.md). Knows nothing of gpuctl.
///
/// Quick reads (version, ps, tags, show) have a short deadline and are repeated with backoff
/// when Ollama is unreachable, slow or answers 5xx. Loads and inference are streamed under
/// `streamTimeouts` and repeated only when the connection was refused (nothing was sent).
public struct OllamaClient: Sendable {
    let http: JSONHTTPClient
    /// Deadline of quick calls (version, ps, tags, show).
    public var quickTimeout: Duration
    /// Limits of loads and inference.
    public var streamTimeouts: StreamTimeouts
    public var retry: RetryPolicy

    public init(baseURL: String, httpClient: HTTPClient, quickTimeout: Duration = .seconds(2),
                streamTimeouts: StreamTimeouts = StreamTimeouts(), retry: RetryPolicy = RetryPolicy(),
                logger: Logger, observer: (@Sendable (BackendCall) -> Void)? = nil) {
        self.http = JSONHTTPClient(baseURL: baseURL, http: httpClient, logger: logger, observer: observer)
        self.quickTimeout = quickTimeout
        self.streamTimeouts = streamTimeouts
        self.retry = retry
    }

    public var baseURL: String { http.baseURL }
    /// The HTTP transport, for a front door that relays requests as they came.
    public var transport: JSONHTTPClient { http }

    /// `GET /api/version`.
    public func version() async throws(OllamaError) -> String {
        struct Reply: Decodable { var version: String }
        return try await quickGet("/api/version", as: Reply.self).version
    }

    /// `GET /api/ps`: the models loaded now.
    public func runningModels() async throws(OllamaError) -> [RunningModel] {
        struct Reply: Decodable { var models: [RunningModel] }
        return try await quickGet("/api/ps", as: Reply.self).models
    }

    /// `GET /api/tags`: the models Ollama has on disk.
    public func localModels() async throws(OllamaError) -> [LocalModel] {
        struct Reply: Decodable { var models: [LocalModel] }
        return try await quickGet("/api/tags", as: Reply.self).models
    }

    /// `POST /api/show`: capabilities and details of one model.
    public func show(_ model: String) async throws(OllamaError) -> ModelInfo {
        let body = JSONWriter.data(.object(["model": .string(model)]))
        let endpoint = "\(baseURL)/api/show"
        do {
            let data = try await retry.run({ () async throws(HTTPCallFailure) -> Data in
                try await http.post("/api/show", json: body, timeout: quickTimeout)
            }, shouldRetry: \.isTransient)
            guard let reply = try? JSONParser.parse(data) else { throw HTTPCallFailure.undecodable("not JSON") }
            let details = reply["details"]
            let capabilities: [String] = if case .array(let items)? = reply["capabilities"] {
                items.compactMap(\.stringValue)
            } else { [] }
            return ModelInfo(capabilities: capabilities, family: details?["family"]?.stringValue,
                             parameterSize: details?["parameter_size"]?.stringValue,
                             quantization: details?["quantization_level"]?.stringValue)
        } catch let failure as HTTPCallFailure {
            throw OllamaError(failure, ollamaEndpoint: endpoint)
        } catch {
            throw OllamaError(kind: .decoding, status: nil, message: "\(error)")
        }
    }

    private func quickGet<T: Decodable>(_ path: String, as type: T.Type) async throws(OllamaError) -> T {
        do {
            return try await retry.run({ () async throws(HTTPCallFailure) -> T in
                try await http.get(path, as: type, timeout: quickTimeout)
            }, shouldRetry: \.isTransient)
        } catch {
            throw OllamaError(error, ollamaEndpoint: "\(baseURL)\(path)")
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

    /// Kept forever: someone loaded it with a negative keep_alive. Ollama shows that as an
    /// expiry about 292 years ahead; like Ollama's CLI, anything more than 20 years out counts.
    public func keptForever(now: Date = Date()) -> Bool {
        guard let text = expiresAt, text.count >= 4, let year = Int(text.prefix(4)) else { return false }
        return year > Calendar(identifier: .gregorian).component(.year, from: now) + 20
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
