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
    }

    private let channel: any Channel
    private let state = NIOLockedValueBox(State())

    init(channel: any Channel) {
        self.channel = channel
    }

    /// Queues `line` (a newline is added) and makes sure a flush is on its way.
    func write(_ line: Data) {
        let schedule = state.withLockedValue { state -> Bool in
            state.pending.append(contentsOf: line)
            state.pending.append(UInt8(ascii: "\n"))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard schedule else { return }
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
    }
}
