import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A request passed on as it came (a front door relaying to its backend): method, path with
/// its query, the headers worth passing on, and the body.
public struct RelayedRequest: Sendable {
    public var method: HTTPMethod
    /// Path and query, `/api/tags?x=1`.
    public var uri: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer?

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// Headers that describe one hop, not the message: never passed on by a proxy (RFC 9110 §7.6.1).
    public static let hopByHopHeaders: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    ]

    /// `headers` without the hop-by-hop ones (and without those a `Connection` header names).
    public static func endToEnd(_ headers: HTTPHeaders) -> HTTPHeaders {
        let named = Set(headers[canonicalForm: "connection"].map { $0.lowercased() })
        var kept = HTTPHeaders()
        for (name, value) in headers {
            let lower = name.lowercased()
            if !hopByHopHeaders.contains(lower), !named.contains(lower) { kept.add(name: name, value: value) }
        }
        return kept
    }
}

/// Where a relayed answer goes, called on `eventLoop` as it arrives: the head, then each body
/// part. A returned future holds back reading the backend until it completes (backpressure);
/// a failed one ends the call.
public protocol RelayTarget: Sendable {
    var eventLoop: any EventLoop { get }
    func relayHead(_ head: HTTPResponseHead) -> EventLoopFuture<Void>?
    func relayBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>?
    /// The relay gave up (a limit passed): fail any write still pending, e.g. by closing the
    /// connection to a client that stopped reading.
    func abandon()
}

extension JSONHTTPClient {
    /// Sends `request` to the backend and hands its answer, whatever its status, to `target`
    /// byte for byte. Throws when the backend cannot be reached or breaks off
    /// (`HTTPCallFailure.unreachable`, `.interrupted` once the head was relayed), or a limit of
    /// `timeouts` passes (`.streamTimedOut`); cancelling the caller cancels the request.
    public func relay(_ request: RelayedRequest, timeouts: StreamTimeouts, to target: some RelayTarget) async throws {
        let outgoing: HTTPClient.Request
        do {
            outgoing = try HTTPClient.Request(url: baseURL + request.uri, method: request.method,
                                              headers: RelayedRequest.endToEnd(request.headers),
                                              body: request.body.map { .byteBuffer($0) })
        } catch {
            throw HTTPCallFailure.unreachable("invalid URL \(baseURL + request.uri)")
        }
        let progress = StreamProgress()
        let delegate = RawRelayDelegate(progress: progress, target: target)
        let task = http.execute(request: outgoing, delegate: delegate, eventLoop: .delegateAndChannel(on: target.eventLoop))
        let started = ContinuousClock.now
        let path = String(request.uri.split(separator: "?", maxSplits: 1).first ?? "")
        do {
            try await watch(task, progress: progress, timeouts: timeouts, onTimeout: { target.abandon() }) { error in
                if error is HTTPCallFailure { return error }
                if delegate.relayedHead { return HTTPCallFailure.interrupted(Self.describe(error)) }
                return Self.classify(error, timeout: timeouts.total)
            }
            log(request.method, path, started, outcome: "relayed \(delegate.status)",
                call: BackendCall.outcome(status: delegate.status))
        } catch {
            log(request.method, path, started, outcome: "\(error)", call: BackendCall.outcome(of: error))
            throw error
        }
    }
}

/// AsyncHTTPClient's delegate for a relayed answer: every callback runs on the target's loop.
final class RawRelayDelegate<Target: RelayTarget>: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = Void

    private let progress: StreamProgress
    private let target: Target
    private let headFlag = NIOLockedFlag()
    private(set) var status = 0

    init(progress: StreamProgress, target: Target) {
        self.progress = progress
        self.target = target
    }

    /// True once the answer's head went to the target.
    var relayedHead: Bool { headFlag.value }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        progress.markChunk()
        status = Int(head.status.code)
        headFlag.set()
        return target.relayHead(head) ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        progress.markChunk()
        return target.relayBody(buffer) ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {}
}
