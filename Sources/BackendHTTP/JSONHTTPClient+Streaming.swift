import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOConcurrencyHelpers
import NIOPosix

extension JSONHTTPClient {
    /// POSTs `json` to `path` and hands each NDJSON line of the reply to `onLine` on
    /// `eventLoop`, the moment it is read: the connection runs on that loop too, so a relay
    /// that writes to a socket of the same loop needs no hand-off between threads. A future
    /// returned by `onLine` holds back reading until it completes (backpressure); an error it
    /// throws ends the call with that error. A non-2xx answer throws `HTTPCallFailure.status`
    /// with its body; a limit of `timeouts` that passes cancels the request and throws
    /// `.streamTimedOut`; cancelling the caller cancels the request. This is the one way
    /// gpuctld reads a streamed answer (a single JSON object is a stream of one line).
    public func postStreaming(
        _ path: String, json: Data, timeouts: StreamTimeouts, on eventLoop: any EventLoop,
        onTimeout: @escaping @Sendable () -> Void = {},
        onLine: @escaping @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?
    ) async throws {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(
                url: baseURL + path, method: .POST,
                headers: ["Content-Type": "application/json", "Accept": "application/x-ndjson, application/json"],
                body: .data(json))
        } catch {
            throw HTTPCallFailure.unreachable("invalid URL \(baseURL + path)")
        }
        let progress = StreamProgress()
        let delegate = LineDelegate(progress: progress, maximumErrorBody: min(maximumBodySize, 1 << 20), onLine: onLine)
        let task = http.execute(request: request, delegate: delegate, eventLoop: .delegateAndChannel(on: eventLoop))
        let started = ContinuousClock.now
        do {
            try await watch(task, progress: progress, timeouts: timeouts, onTimeout: onTimeout) { error in
                // What `onLine` threw comes out as it is.
                if let thrown = delegate.thrown { return thrown }
                if error is HTTPCallFailure { return error }
                // Once the answer has started, a broken connection is not "unreachable".
                if delegate.startedBody { return HTTPCallFailure.interrupted(Self.describe(error)) }
                return Self.classify(error, timeout: timeouts.total)
            }
            log(.POST, path, started, outcome: "streamed", call: "ok")
        } catch {
            log(.POST, path, started, outcome: "\(error)", call: BackendCall.outcome(of: error))
            throw error
        }
    }

    /// Waits for `task` while a watchdog holds it to `timeouts` (a limit that passes cancels it
    /// and throws `.streamTimedOut`); cancelling the caller cancels the request. `failure` turns
    /// what the request failed with into what the caller is told.
    ///
    /// `onTimeout` runs as a limit passes, before the request is waited for: a relay whose
    /// consumer stopped reading must let go of that consumer's pending write, which AsyncHTTPClient
    /// waits for before it can finish the cancelled request.
    func watch(_ task: HTTPClient.Task<Void>, progress: StreamProgress, timeouts: StreamTimeouts,
               onTimeout: @escaping @Sendable () -> Void = {},
               failure: @escaping @Sendable (Error) -> Error) async throws {
        let watchdog = StreamWatchdog(progress: progress, timeouts: timeouts, loop: task.eventLoop)
        watchdog.start {
            onTimeout()
            task.cancel()
        }
        defer { watchdog.stop() }
        do {
            try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch {
            if let fired = watchdog.fired { throw HTTPCallFailure.streamTimedOut(fired.kind, seconds: fired.limit.seconds) }
            if Task.isCancelled { throw CancellationError() }
            throw failure(error)
        }
    }
}

/// AsyncHTTPClient's delegate for an NDJSON answer: splits lines as body parts arrive, on the
/// connection's event loop. Every callback runs on that loop, which is what makes the mutable
/// state safe.
final class LineDelegate: HTTPClientResponseDelegate, @unchecked Sendable {
    typealias Response = Void

    private let progress: StreamProgress
    private let maximumErrorBody: Int
    private let onLine: @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?
    private var status: HTTPResponseStatus = .ok
    private var pending = ByteBuffer()
    private var errorBody = ByteBuffer()
    private let started = NIOLockedFlag()
    private let thrownBox = NIOLockedValueBox<Error?>(nil)

    /// What `onLine` threw, if it did.
    var thrown: Error? { thrownBox.withLockedValue { $0 } }

    init(progress: StreamProgress, maximumErrorBody: Int, onLine: @escaping @Sendable (ByteBuffer) throws -> EventLoopFuture<Void>?) {
        self.progress = progress
        self.maximumErrorBody = maximumErrorBody
        self.onLine = onLine
    }

    /// True once a byte of a 2xx body has arrived.
    var startedBody: Bool { started.value }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status = head.status
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        progress.markChunk()
        var buffer = buffer
        guard (200..<300).contains(status.code) else {
            if errorBody.readableBytes < maximumErrorBody { errorBody.writeBuffer(&buffer) }
            return task.eventLoop.makeSucceededVoidFuture()
        }
        started.set()
        pending.writeBuffer(&buffer)
        var last: EventLoopFuture<Void>?
        do {
            while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending.readSlice(length: newline - pending.readerIndex)!
                pending.moveReaderIndex(forwardBy: 1)
                if line.readableBytes > 0, let future = try onLine(line) { last = future }
            }
            pending.discardReadBytes()
            guard pending.readableBytes <= NDJSON.maximumLineLength else {
                throw HTTPCallFailure.undecodable("a line longer than \(NDJSON.maximumLineLength >> 20) MiB")
            }
        } catch {
            thrownBox.withLockedValue { $0 = error }
            return task.eventLoop.makeFailedFuture(error)
        }
        return last ?? task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        guard (200..<300).contains(status.code) else {
            throw HTTPCallFailure.status(Int(status.code), body: String(buffer: errorBody))
        }
        // A single object comes without a trailing newline.
        if pending.readableBytes > 0 {
            let line = pending
            pending.clear()
            do {
                _ = try onLine(line)
            } catch {
                thrownBox.withLockedValue { $0 = error }
                throw error
            }
        }
    }
}

/// A flag set once, readable from any thread.
final class NIOLockedFlag: Sendable {
    private let box = NIOLockedValueBox(false)
    func set() { box.withLockedValue { $0 = true } }
    var value: Bool { box.withLockedValue { $0 } }
}

extension JSONHTTPClient {
    /// Turns what AsyncHTTPClient threw into a failure a backend client can report.
    /// `unreachable` only when the request cannot have left (no connection was made): that is
    /// what callers repeat. Anything else that broke the call, a reset after the request was
    /// sent included, is `interrupted`: the backend may have acted on it, so a generate or a
    /// load is never sent twice.
    static func classify(_ error: Error, timeout: Duration) -> Error {
        if error is HTTPCallFailure || error is CancellationError { return error }
        if let error = error as? HTTPClientError {
            if error == .cancelled { return CancellationError() }
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                return HTTPCallFailure.timedOut(seconds: timeout.seconds)
            }
        }
        return neverSent(error) ? HTTPCallFailure.unreachable(describe(error)) : HTTPCallFailure.interrupted(describe(error))
    }

    /// Errors of making the connection (refused, no route, no such host or socket file), or of
    /// writing to one already closed.
    static func neverSent(_ error: Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? HTTPClientError {
            return [.invalidURL, .emptyHost, .emptyScheme, .unsupportedScheme(""), .connectTimeout].contains { $0 == error }
                || String(describing: error).contains("unsupportedScheme")
        }
        if let io = error as? IOError {
            return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOENT, EADDRNOTAVAIL, ECONNABORTED].contains(io.errnoCode)
        }
        // A pooled connection the backend had closed: the request could not be written.
        if case ChannelError.connectTimeout = error { return true }
        if let channel = error as? ChannelError, channel == .ioOnClosedChannel { return true }
        return false
    }
}

/// NDJSON as the backends send it.
public enum NDJSON {
    /// A line longer than this is an error (a backend never sends one).
    public static let maximumLineLength = 64 << 20
}

extension Duration {
    /// The duration in seconds, as a Double (for messages and JSON).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
