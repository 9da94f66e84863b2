import AsyncHTTPClient
@_exported import BackendHTTP
import Foundation
import GPUCtlModels
import Logging

/// A text-to-speech server, as a `BackendError` names it.
public enum SpeechBackend: BackendIdentity {
    public static let name = "the TTS server"
}

/// A failed call to the TTS server; its message is the server's own error text when it answered.
public typealias SpeechError = BackendError<SpeechBackend>

extension BackendError where Backend == SpeechBackend {
    init(_ failure: HTTPCallFailure, speechEndpoint endpoint: String) {
        self.init(failure, endpoint: endpoint) { _, body in
            // OpenAI-style {"error":{"message":…}}, FastAPI's {"detail":…}, or plain text.
            let json = try? JSONParser.parse(Array(body.utf8))
            return Self.sentence(json?["error"]?["message"]?.stringValue ?? json?["error"]?.stringValue
                ?? json?["detail"]?["message"]?.stringValue ?? json?["detail"]?.stringValue ?? body)
        }
    }
}

/// A text-to-speech server with OpenAI's speech contract (`POST /v1/audio/speech`), as
/// Kokoro-FastAPI, Speaches and openedai-speech serve it. Knows nothing of gpuctl.
public struct SpeechClient: Sendable {
    let http: JSONHTTPClient
    /// Deadline of quick calls (health, unload).
    public var quickTimeout: Duration
    /// Deadline of one synthesis (a long text on a cold server takes a while).
    public var speechTimeout: Duration

    public var baseURL: String { http.baseURL }

    public init(baseURL: String, httpClient: HTTPClient, logger: Logger, quickTimeout: Duration = .seconds(2),
                speechTimeout: Duration = .seconds(300), maximumAudioBytes: Int = 64 << 20,
                observer: (@Sendable (BackendCall) -> Void)? = nil) {
        var http = JSONHTTPClient(baseURL: baseURL, http: httpClient, logger: logger, observer: observer)
        http.maximumBodySize = maximumAudioBytes
        self.http = http
        self.quickTimeout = quickTimeout
        self.speechTimeout = speechTimeout
    }

    /// Whether it answers, and what it says it is: `GET /health` (Kokoro-FastAPI, Speaches),
    /// else `GET /v1/models` (any OpenAI-style server). Throws when neither answers.
    public func health() async throws(SpeechError) -> String {
        do {
            let body = try await http.send(method: .GET, path: "/health", body: nil, timeout: quickTimeout)
            let json = try? JSONParser.parse(body)
            return json?["version"]?.stringValue ?? json?["status"]?.stringValue ?? "up"
        } catch .status(404, _) {
            do {
                _ = try await http.send(method: .GET, path: "/v1/models", body: nil, timeout: quickTimeout)
                return "up"
            } catch {
                throw SpeechError(error, speechEndpoint: "\(baseURL)/v1/models")
            }
        } catch {
            throw SpeechError(error, speechEndpoint: "\(baseURL)/health")
        }
    }

    /// The audio for `input`, in `format` (`wav`, `mp3`, `flac`, `opus`, `pcm`, …), as the
    /// server sends it.
    public func speak(model: String, input: String, voice: String?, format: String, speed: Double? = nil) async throws(SpeechError) -> Data {
        var body: [String: JSONValue] = ["model": .string(model), "input": .string(input), "response_format": .string(format)]
        if let voice { body["voice"] = .string(voice) }
        if let speed { body["speed"] = .number(speed) }
        do {
            return try await http.post("/v1/audio/speech", json: JSONWriter.data(.object(body)), timeout: speechTimeout)
        } catch {
            throw SpeechError(error, speechEndpoint: "\(baseURL)/v1/audio/speech")
        }
    }

    /// Asks the server to give its model's memory back (Kokoro-FastAPI's `POST /dev/unload`);
    /// it loads again on the next speech. Returns false when the server has no such call.
    public func unload() async throws(SpeechError) -> Bool {
        do {
            _ = try await http.send(method: .POST, path: "/dev/unload", body: nil, timeout: quickTimeout)
            return true
        } catch .status(let code, _) where code == 404 || code == 405 {
            return false
        } catch {
            throw SpeechError(error, speechEndpoint: "\(baseURL)/dev/unload")
        }
    }
}
