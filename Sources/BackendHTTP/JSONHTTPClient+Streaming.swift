import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension JSONHTTPClient {
    /// POSTs `json` to `path` and hands the reply's NDJSON lines to `consume` as they arrive,
    /// under the limits of `timeouts`. A non-2xx answer throws `HTTPCallFailure.status` with
    /// its body; a limit that passes cancels the request and throws `.streamTimedOut`; cancelling
    /// the caller cancels the request. Errors thrown by `consume` come out as they are.
    public func postStreaming<Result: Sendable>(
        _ path: String, json: Data, timeouts: StreamTimeouts,
        consume: @escaping @Sendable (NDJSONLines) async throws -> Result
    ) async throws -> Result {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/x-ndjson, application/json")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: json))
        let progress = StreamProgress()
        let prepared = request
        let http = self.http
        let maximumErrorBody = min(maximumBodySize, 1 << 20)
        let started = ContinuousClock.now
        do {
            let result = try await withThrowingTaskGroup(of: StreamOutcome<Result>.self) { group in
                group.addTask {
                    let response: HTTPClientResponse
                    do {
                        // The watchdog enforces every limit; AHC's deadline is only a backstop.
                        response = try await http.execute(prepared, deadline: .now() + .seconds(Int64(timeouts.total.components.seconds) + 5))
                    } catch {
                        throw Self.classify(error, timeout: timeouts.total)
                    }
                    guard (200..<300).contains(response.status.code) else {
                        let body = try await response.body.collect(upTo: maximumErrorBody)
                        throw HTTPCallFailure.status(Int(response.status.code), body: String(buffer: body))
                    }
                    return .finished(try await consume(NDJSONLines(body: response.body, progress: progress)))
                }
                group.addTask {
                    let (kind, limit) = try await progress.watch(timeouts)
                    return .timedOut(kind, limit)
                }
                let first = try await group.next()!
                group.cancelAll()
                switch first {
                case .finished(let result): return result
                case .timedOut(let kind, let limit): throw HTTPCallFailure.streamTimedOut(kind, seconds: limit.seconds)
                }
            }
            log(.POST, path, started, outcome: "streamed", call: "ok")
            return result
        } catch {
            log(.POST, path, started, outcome: "\(error)", call: BackendCall.outcome(of: error))
            throw error
        }
    }

    /// Turns what AsyncHTTPClient threw into a failure a backend client can report.
    static func classify(_ error: Error, timeout: Duration) -> Error {
        if error is HTTPCallFailure || error is CancellationError { return error }
        if let error = error as? HTTPClientError {
            if error == .cancelled { return CancellationError() }
            if error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                return HTTPCallFailure.timedOut(seconds: timeout.seconds)
            }
        }
        return HTTPCallFailure.unreachable(describe(error))
    }
}

/// How a streamed call's two racing tasks end: the reader finished, or the watchdog fired.
enum StreamOutcome<Result: Sendable>: Sendable {
    case finished(Result)
    case timedOut(StreamTimeoutKind, Duration)
}

/// The lines of an NDJSON body, each without its newline, as they arrive. Every body chunk
/// counts as progress for the call's idle limit.
public struct NDJSONLines: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let body: HTTPClientResponse.Body
    let progress: StreamProgress
    /// A line longer than this is an error (a backend never sends one).
    public static let maximumLineLength = 64 << 20

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        let progress: StreamProgress
        var pending = ByteBuffer()
        var finished = false

        public mutating func next() async throws -> ByteBuffer? {
            while true {
                if let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = newline - pending.readerIndex
                    let line = pending.readSlice(length: length)!
                    pending.moveReaderIndex(forwardBy: 1)
                    if line.readableBytes == 0 { continue }
                    return line
                }
                if finished {
                    // The last line may lack its newline (a non-streamed object never has one).
                    guard pending.readableBytes > 0 else { return nil }
                    defer { pending.clear() }
                    return pending
                }
                let next: ByteBuffer?
                do {
                    next = try await chunks.next()
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    throw HTTPCallFailure.interrupted(JSONHTTPClient.describe(error))
                }
                guard let chunk = next else {
                    finished = true
                    continue
                }
                progress.markChunk()
                if pending.readableBytes == 0 {
                    pending = chunk
                } else {
                    pending.discardReadBytes()
                    var chunk = chunk
                    pending.writeBuffer(&chunk)
                }
                guard pending.readableBytes <= NDJSONLines.maximumLineLength else {
                    throw HTTPCallFailure.undecodable("a line longer than \(NDJSONLines.maximumLineLength >> 20) MiB")
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), progress: progress)
    }
}

extension Duration {
    /// The duration in seconds, as a Double (for messages and JSON).
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
