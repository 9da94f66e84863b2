import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Writes a call's notifications to its connection from any thread, coalescing: lines that
/// arrive while a write is already scheduled on the event loop join it, so a fast stream costs
/// one hop and one flush per burst instead of one per line, and a slow one loses nothing
/// (the first line of a burst is scheduled at once).
final class NotificationWriter: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var scheduled = false
        /// A flush is queued on the loop for the lines written in this tick.
        var flushScheduled = false
    }

    private let channel: any Channel
    private let state = NIOLockedValueBox(State())

    init(channel: any Channel) {
        self.channel = channel
    }

    /// Queues `line` (a newline is added) and makes sure a flush is on its way. On the
    /// connection's own event loop the line is written at once, and the write's future is
    /// returned so the caller can hold back until the peer has taken it.
    @discardableResult
    func write(_ line: Data) -> EventLoopFuture<Void>? {
        if channel.eventLoop.inEventLoop {
            var buffer = channel.allocator.buffer(capacity: line.count + 1)
            let flushNeeded = state.withLockedValue { state -> Bool in
                buffer.writeBytes(state.pending)
                state.pending.removeAll(keepingCapacity: true)
                defer { state.flushScheduled = true }
                return !state.flushScheduled
            }
            buffer.writeBytes(line)
            buffer.writeInteger(UInt8(ascii: "\n"))
            // Lines written in one tick of the loop (one read from Ollama may hold several)
            // leave in one write(2): the flush runs once the tick's reads are handled.
            let writable = channel.isWritable
            let written: EventLoopFuture<Void>? = writable ? nil : channel.write(buffer)
            if writable { channel.write(buffer, promise: nil) }
            if flushNeeded {
                let channel = self.channel
                channel.eventLoop.execute { [self] in
                    state.withLockedValue { $0.flushScheduled = false }
                    channel.flush()
                }
            }
            // Backpressure only when the peer is behind: then the caller waits for this write.
            return written
        }
        let schedule = state.withLockedValue { state -> Bool in
            state.pending.append(contentsOf: line)
            state.pending.append(UInt8(ascii: "\n"))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard schedule else { return nil }
        let channel = self.channel
        channel.eventLoop.execute { [self] in
            let bytes = state.withLockedValue { state -> [UInt8] in
                state.scheduled = false
                defer { state.pending.removeAll(keepingCapacity: true) }
                return state.pending
            }
            guard !bytes.isEmpty else { return }
            channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        }
        return nil
    }
}
