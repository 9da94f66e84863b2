import NIOConcurrencyHelpers

/// The four limits of a streamed backend call. A model load can take minutes, so the first
/// byte gets a generous limit of its own; after that, silence between chunks is bounded by
/// `idle`, and the whole call by `total`. Connecting is bounded by the HTTP client's connect
/// timeout.
public struct StreamTimeouts: Sendable, Equatable {
    /// Until the first byte of the body (covers queueing and loading the model).
    public var firstByte: Duration
    /// Between two chunks once the body has started.
    public var idle: Duration
    /// The whole call.
    public var total: Duration

    public init(firstByte: Duration = .seconds(300), idle: Duration = .seconds(60), total: Duration = .seconds(1800)) {
        self.firstByte = firstByte
        self.idle = idle
        self.total = total
    }
}

/// Which limit a streamed call ran into.
public enum StreamTimeoutKind: String, Sendable, Equatable {
    case firstByte = "first byte"
    case idle = "idle between chunks"
    case total = "total"
}

/// Shared between a stream reader and its watchdog: the reader marks progress (one locked
/// store per chunk, nothing else), the watchdog sleeps until the next limit and checks.
final class StreamProgress: Sendable {
    private struct State {
        var started: ContinuousClock.Instant
        var lastChunk: ContinuousClock.Instant?
    }

    private let state: NIOLockedValueBox<State>

    init(started: ContinuousClock.Instant = .now) {
        state = NIOLockedValueBox(State(started: started))
    }

    func markChunk() {
        state.withLockedValue { $0.lastChunk = .now }
    }

    /// When the next limit falls and which one it is.
    func nextDeadline(_ timeouts: StreamTimeouts) -> (ContinuousClock.Instant, StreamTimeoutKind) {
        let (started, lastChunk) = state.withLockedValue { ($0.started, $0.lastChunk) }
        let total = started + timeouts.total
        let chunkLimit = lastChunk.map { ($0 + timeouts.idle, StreamTimeoutKind.idle) }
            ?? (started + timeouts.firstByte, .firstByte)
        return chunkLimit.0 < total ? chunkLimit : (total, .total)
    }

    /// Returns the limit that passed; runs until one does (or the task is cancelled).
    func watch(_ timeouts: StreamTimeouts) async throws -> (StreamTimeoutKind, Duration) {
        while true {
            let (deadline, kind) = nextDeadline(timeouts)

            if ContinuousClock.now >= deadline {
                let limit = switch kind {
                case .firstByte: timeouts.firstByte
                case .idle: timeouts.idle
                case .total: timeouts.total
                }
                return (kind, limit)
            }
            // A chunk that comes while this sleeps moves the limit to its time + idle, which is
            // never sooner than now + idle: waking by then is soon enough to see it.
            let wake = min(deadline, ContinuousClock.now + timeouts.idle)
            try await Task.sleep(until: wake, tolerance: .milliseconds(10), clock: .continuous)
        }
    }
}
