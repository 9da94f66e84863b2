import NIOConcurrencyHelpers
import NIOCore

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
}

/// Holds a streamed call to its limits from the call's event loop: a check scheduled at the next
/// limit (and at least once per idle period, since a chunk that comes meanwhile moves the limit
/// to its time + idle, never sooner than now + idle), which runs `onFire` when one passes. No
/// task and no thread of its own: a scheduled task on the loop the call already uses.
final class StreamWatchdog: Sendable {
    private struct State {
        var fired: (kind: StreamTimeoutKind, limit: Duration)?
        var scheduled: Scheduled<Void>?
        var stopped = false
    }

    private let progress: StreamProgress
    private let timeouts: StreamTimeouts
    private let loop: any EventLoop
    private let state = NIOLockedValueBox(State())

    init(progress: StreamProgress, timeouts: StreamTimeouts, loop: any EventLoop) {
        self.progress = progress
        self.timeouts = timeouts
        self.loop = loop
    }

    /// The limit that passed, if one did.
    var fired: (kind: StreamTimeoutKind, limit: Duration)? { state.withLockedValue { $0.fired } }

    func start(onFire: @escaping @Sendable () -> Void) { check(onFire) }

    /// No more checks (the call ended).
    func stop() {
        let scheduled = state.withLockedValue { state -> Scheduled<Void>? in
            state.stopped = true
            return state.scheduled
        }
        scheduled?.cancel()
    }

    private func check(_ onFire: @escaping @Sendable () -> Void) {
        let (deadline, kind) = progress.nextDeadline(timeouts)
        let now = ContinuousClock.now
        if now >= deadline {
            let limit = switch kind {
            case .firstByte: timeouts.firstByte
            case .idle: timeouts.idle
            case .total: timeouts.total
            }
            let first = state.withLockedValue { state -> Bool in
                guard !state.stopped, state.fired == nil else { return false }
                state.fired = (kind, limit)
                return true
            }
            if first { onFire() }
            return
        }
        let wait = min(deadline, now + timeouts.idle) - now
        let parts = wait.components
        let delay = TimeAmount.nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000 + 1_000_000)
        let scheduled = loop.scheduleTask(in: delay) { self.check(onFire) }
        let stopped = state.withLockedValue { state -> Bool in
            if !state.stopped { state.scheduled = scheduled }
            return state.stopped
        }
        if stopped { scheduled.cancel() }
    }
}
