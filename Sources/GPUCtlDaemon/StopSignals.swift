import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT as a stream of stop requests, watched from the first line of `main`:
/// the socket answers before the ServiceGroup runs, and a stop asked for in that window must
/// still shut down cleanly (socket removed, exit 0), not kill the process mid-start.
public final class StopSignals: @unchecked Sendable {
    public let requests: AsyncStream<Int32>
    /// Only read in deinit; kept so the sources live as long as this value.
    private let sources: [any DispatchSourceSignal]

    public init(_ signals: [Int32] = [SIGTERM, SIGINT]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        requests = stream
        sources = signals.map { number in
            // The default action (terminate) is replaced; the dispatch source still sees it.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    deinit {
        sources.forEach { $0.cancel() }
    }
}
