import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers

/// Hands every `DaemonEvent` to whoever follows `events.subscribe`. Publishing never waits:
/// each subscriber has a bounded buffer, and a subscriber that falls that far behind loses
/// its oldest events (counted in `dropped`) rather than slowing the daemon.
public final class EventHub: Sendable {
    /// How many events a slow subscriber may have unread.
    public static let bufferSize = 4096

    private struct Subscriber {
        var filter: Set<String>
        /// Only this job's events (a `jobs.wait`), when set.
        var job: String?
        var continuation: AsyncStream<DaemonEvent>.Continuation

        func takes(_ event: DaemonEvent) -> Bool {
            event.matches(filter) && (job == nil || event.job == job)
        }
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var next = 0
        var dropped = 0
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// A stream of events from now on, those `filter` takes (see `DaemonEvent.matches`), and
    /// with `job` only that job's. It starts with a `subscribed` event and ends when the caller
    /// stops iterating. (A job's last event is its newest, so a slow reader never loses it.)
    public func subscribe(filter: Set<String> = [], job: String? = nil) -> AsyncStream<DaemonEvent> {
        let (stream, continuation) = AsyncStream<DaemonEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferSize))
        continuation.yield(DaemonEvent(.subscribed))
        let id = state.withLockedValue { state -> Int? in
            guard !state.closed else { return nil }
            state.next += 1
            state.subscribers[state.next] = Subscriber(filter: filter, job: job, continuation: continuation)
            return state.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Sends `event` to every subscriber that takes it.
    public func publish(_ event: DaemonEvent) {
        let targets = state.withLockedValue { state in
            state.subscribers.values.filter { $0.takes(event) }.map(\.continuation)
        }
        guard !targets.isEmpty else { return }
        var lost = 0
        for continuation in targets {
            if case .dropped = continuation.yield(event) { lost += 1 }
        }
        if lost > 0 { state.withLockedValue { $0.dropped += lost } }
    }

    /// Ends every subscription (the daemon is stopping); later ones end at once.
    public func finishAll() {
        let all = state.withLockedValue { state in
            state.closed = true
            defer { state.subscribers = [:] }
            return state.subscribers.values.map(\.continuation)
        }
        for continuation in all { continuation.finish() }
    }

    /// Subscribers now (job watchers included).
    public var subscriberCount: Int { state.withLockedValue { $0.subscribers.count } }
    /// Subscribers that follow `job` alone.
    public func subscriberCount(job: String) -> Int {
        state.withLockedValue { $0.subscribers.values.filter { $0.job == job }.count }
    }
    /// Events lost to subscribers that fell behind, since start.
    public var dropped: Int { state.withLockedValue { $0.dropped } }
}
