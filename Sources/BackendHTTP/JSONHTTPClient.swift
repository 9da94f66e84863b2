import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Why an HTTP call to a backend failed, in terms a backend client can turn into its own error.
public enum HTTPCallFailure: Error, Sendable, Equatable {
    /// Nothing accepted the connection (refused, no route, DNS).
    case unreachable(String)
    /// No complete answer before the deadline.
    case timedOut(seconds: Double)
    /// A streamed answer ran into one of its limits (`StreamTimeouts`).
    case streamTimedOut(StreamTimeoutKind, seconds: Double)
    /// An answer with a status other than 2xx, with its body as text.
    case status(Int, body: String)
    /// The connection broke after the request was sent (the backend may have acted on it).
    case interrupted(String)
    /// A 2xx answer whose body is not the JSON expected.
    case undecodable(String)
}

/// Small JSON-over-HTTP calls with a deadline each, shared by the Ollama and ComfyUI clients.
public struct JSONHTTPClient: Sendable {
    public let baseURL: String
    public let http: HTTPClient
    /// Largest body read into memory.
    public var maximumBodySize = 16 * 1024 * 1024
    private let logger: Logger
    /// Told of every finished call (metrics); nil when nobody counts.
    public var observer: (@Sendable (BackendCall) -> Void)?

    public init(baseURL: String, http: HTTPClient, logger: Logger, observer: (@Sendable (BackendCall) -> Void)? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.logger = logger
        self.observer = observer
    }

    /// GETs `path` and decodes the JSON body.
    public func get<T: Decodable>(_ path: String, as type: T.Type, timeout: Duration) async throws(HTTPCallFailure) -> T {
        let body = try await send(method: .GET, path: path, body: nil, timeout: timeout)
        return try decode(body, as: type)
    }

    /// POSTs a JSON body to `path` and returns the raw body of a 2xx answer.
    public func post(_ path: String, json: Data, timeout: Duration) async throws(HTTPCallFailure) -> Data {
        try await send(method: .POST, path: path, body: json, timeout: timeout)
    }

    public func decode<T: Decodable>(_ body: Data, as type: T.Type) throws(HTTPCallFailure) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch {
            throw .undecodable("\(error)")
        }
    }

    /// One request with a deadline; the body is read whole (bounded by `maximumBodySize`). A
    /// GET cut off before its answer is sent once more at once: it is safe to repeat, and a
    /// pooled connection the backend closed (it restarted) must not make it look broken.
    public func send(method: HTTPMethod, path: String, body: Data?, timeout: Duration) async throws(HTTPCallFailure) -> Data {
        do {
            return try await sendOnce(method: method, path: path, body: body, timeout: timeout)
        } catch .interrupted where method == .GET || method == .HEAD {
            return try await sendOnce(method: method, path: path, body: body, timeout: timeout)
        }
    }

    private func sendOnce(method: HTTPMethod, path: String, body: Data?, timeout: Duration) async throws(HTTPCallFailure) -> Data {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let started = ContinuousClock.now
        let seconds = timeout.seconds
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(seconds * 1e9)))
            let buffer = try await response.body.collect(upTo: maximumBodySize)
            let data = Data(buffer.readableBytesView)
            log(method, path, started, outcome: "\(response.status.code)", call: BackendCall.outcome(status: Int(response.status.code)))
            guard (200..<300).contains(response.status.code) else {
                throw HTTPCallFailure.status(Int(response.status.code), body: String(decoding: data, as: UTF8.self))
            }
            return data
        } catch let failure as HTTPCallFailure {
            throw failure
        } catch {
            let failure = Self.classify(error, timeout: timeout)
            log(method, path, started, outcome: "\(failure)", call: BackendCall.outcome(of: failure))
            // A cancelled caller is reported as unreachable only to the log; the caller knows.
            throw failure as? HTTPCallFailure ?? .unreachable("cancelled")
        }
    }

    func log(_ method: HTTPMethod, _ path: String, _ started: ContinuousClock.Instant, outcome: String, call: String) {
        let elapsed = ContinuousClock.now - started
        observer?(BackendCall(method: method.rawValue, endpoint: BackendCall.endpoint(of: path), outcome: call, duration: elapsed))
        logger.trace("backend call", metadata: [
            "http.method": "\(method.rawValue)", "http.url": "\(baseURL)\(path)",
            "http.outcome": "\(outcome)", "http.duration": "\(elapsed)",
        ])
    }

    /// "connection refused" rather than a type dump.
    public static func describe(_ error: Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "connect timeout" }
        if text.lowercased().contains("refused") { return "connection refused" }
        return text
    }
}
