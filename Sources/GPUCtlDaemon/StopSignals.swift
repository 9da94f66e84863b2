import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT as a stream of stop requests, watched from the first line of `main`:
/// the socket answers before the ServiceGroup runs, and a stop asked for in that window must
/// still shut down cleanly (socket removed, exit 0), not kill the process mid-start.
///
/// A handler writes each signal to a pipe (the self-pipe trick) and a read source turns the
/// pipe into the stream. The handler replaces the default action in one step, so a signal is
/// either the kernel's default (before) or in the pipe (after), never lost: ignoring the
/// signals and then registering dispatch signal sources, as this did first, dropped a SIGTERM
/// that came in between and left the daemon running.
public final class StopSignals: @unchecked Sendable {
    public let requests: AsyncStream<Int32>
    /// Kept so the source lives as long as this value.
    private let reader: (any DispatchSourceRead)?

    /// The pipe's write end, for the handler (a C function cannot capture it). One process
    /// has one set of signal handlers, so there is one StopSignals per process.
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    public init(_ signals: [Int32] = [SIGTERM, SIGINT]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        requests = stream
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
        } else {
            // No pipe (out of descriptors at the first line of main): the default action stays.
            ends = [-1, -1]
        }
        Self.writeEnd = ends[1]
        let readEnd = ends[0]
        if readEnd >= 0 {
            for number in signals {
                signal(number) { number in
                    var byte = UInt8(truncatingIfNeeded: number)
                    _ = write(StopSignals.writeEnd, &byte, 1)
                }
            }
        }
        guard readEnd >= 0 else {
            reader = nil
            return
        }
        let reader = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: .global())
        self.reader = reader
        reader.setEventHandler {
            var bytes = [UInt8](repeating: 0, count: 16)
            let count = read(readEnd, &bytes, bytes.count)
            for byte in bytes.prefix(max(count, 0)) { continuation.yield(Int32(byte)) }
        }
        reader.resume()
    }

    deinit {
        reader?.cancel()
    }
}
