import GPUCtlModels

/// The life of the ComfyUI job the runner holds, as a value: events in (what ComfyUI's /ws
/// said, the answer to a question put to ComfyUI or the store, time passing, a cancel),
/// actions out (ask, submit, record, stop, release). The runner carries the actions out and
/// feeds each answer back, so every decision (when to submit, reconcile, resubmit, time out,
/// give up) is made here and tested with plain values, like the Scheduler's.
///
/// One lifecycle follows one prompt at a time. A job is one prompt today; a pipeline's ComfyUI
/// step will be one too, under a prompt id of its own (`Ticket.promptID`), so the same value
/// runs each step and the pipeline decides what comes next.
public struct JobLifecycle: Sendable {
    /// How patient the lifecycle is, with the daemon's defaults.
    public struct Settings: Sendable, Equatable {
        /// Submissions of one prompt before it fails because ComfyUI keeps losing it.
        public var retryLimit = 3
        /// With no event for this long while /ws is connected, /history and /queue are asked.
        public var quietReconcile: Duration = .seconds(2)
        /// How often ticks come; with /ws down, every tick reconciles.
        public var tickInterval: Duration = .milliseconds(250)
        /// Progress goes out at most this often; a tick sends what is left.
        public var progressInterval: Duration = .milliseconds(100)
        /// After an interrupt for a timeout, how long to wait for ComfyUI to confirm it.
        public var interruptGrace: Duration = .seconds(30)
        /// Between two looks at a ComfyUI queue that holds someone else's work.
        public var submitRetry: Duration = .seconds(1)
        /// How long an empty queue reported over /ws is believed without asking /queue (a
        /// connection that died silently reports nothing more).
        public var queueReportTrust: Duration = .seconds(2)
        /// The /ws client id this gpuctld submits under: prompts of any other id (another
        /// gpuctld's included) are someone else's work, waited for.
        public var ownClientID = "gpuctld"

        public init() {}
    }

    /// A job as the runner is handed it.
    public struct Ticket: Sendable, Equatable {
        public var jobID: String
        /// gpuctld's own prompt id for ComfyUI.
        public var promptID: String
        /// `admitted` for a fresh job; `submitted` or `running` for one resumed after a restart.
        public var state: JobState
        public var attempts: Int
        public var timeout: Duration
        /// The graph's node ids and each one's class, for progress.
        public var nodeTypes: [String: String]
        /// Times it was put back in line after the card ran out of memory under it.
        public var memoryRetries: Int

        public init(jobID: String, promptID: String, state: JobState, attempts: Int, timeout: Duration,
                    nodeTypes: [String: String], memoryRetries: Int = 0) {
            self.jobID = jobID
            self.promptID = promptID
            self.state = state
            self.attempts = attempts
            self.timeout = timeout
            self.nodeTypes = nodeTypes
            self.memoryRetries = memoryRetries
        }
    }

    /// Where the held job is.
    public enum Phase: Sendable, Equatable {
        /// Not submitted yet: ComfyUI's queue holds someone else's work.
        case waitingForComfy
        /// Given to ComfyUI (queued or running there).
        case submitted
        /// ComfyUI said it succeeded; its history and outputs are being collected.
        case finishing
    }

    /// The job the lifecycle holds, and what it knows of it.
    public struct HeldJob: Sendable, Equatable {
        public var ticket: Ticket
        public var phase: Phase = .waitingForComfy
        public var deadline: ContinuousClock.Instant
        public var lastHeard: ContinuousClock.Instant
        public var lastAttempt: ContinuousClock.Instant?
        public var cancelRequested = false
        public var interruptedAt: ContinuousClock.Instant?
        public var needsReconcile = false
        public var progress = JobProgress()
        public var progressSentAt: ContinuousClock.Instant?
        /// Progress newer than what was last sent.
        public var progressUnsent = false
        public var done: Set<String> = []

        public var jobID: String { ticket.jobID }
        public var promptID: String { ticket.promptID }
    }

    /// The question an answer is awaited for (at most one at a time: the runner answers it
    /// before it hands on the next event).
    public enum Question: Sendable, Equatable {
        case queueBeforeSubmit
        case submitRecorded
        case submit
        /// `/history`; `again` is the second look, after /queue did not list the prompt.
        case history(again: Bool)
        case queue
        case outputs
    }

    public internal(set) var settings: Settings
    public internal(set) var link = ComfyLink()
    public internal(set) var job: HeldJob?
    public internal(set) var awaiting: Question?

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Takes one event; returns what to do, in order. Answers to the questions among the
    /// actions are fed back as events before anything else.
    public mutating func handle(_ event: JobEvent, now: ContinuousClock.Instant) -> [JobAction] {
        switch event {
        case .admitted(let ticket):
            return admit(ticket, now: now)
        case .cancel(let jobID):
            guard job?.jobID == jobID else { return [] }
            return cancel()
        case .connected:
            link.observe(connected: true)
            guard let held = job, held.needsReconcile, held.phase != .waitingForComfy else { return [] }
            return reconcile()
        case .disconnected:
            link.observe(connected: false)
            job?.needsReconcile = true
            return []
        case .queueReported(let remaining):
            link.observe(queueRemaining: remaining, at: now)
            return []
        case .execution(let promptID, let execution):
            guard var held = job, held.phase != .waitingForComfy, promptID == held.promptID else { return [] }
            held.lastHeard = now
            job = held
            return apply(execution, now: now)
        case .tick:
            return tick(now: now)
        case .recorded(let state, let attempts):
            job?.ticket.state = state
            job?.ticket.attempts = attempts
            guard awaiting == .submitRecorded else { return [] }
            awaiting = nil
            return submitRecorded(now: now)
        case .recordRefused:
            guard awaiting == .submitRecorded else { return [] }
            awaiting = nil
            return release()
        default:
            return answer(event, now: now)
        }
    }

    private mutating func admit(_ ticket: Ticket, now: ContinuousClock.Instant) -> [JobAction] {
        var held = HeldJob(ticket: ticket, deadline: now, lastHeard: now)
        held.progress.nodesTotal = ticket.nodeTypes.count
        awaiting = nil
        job = held
        guard ticket.state == .admitted else {
            // Resumed after a restart: ComfyUI may have it queued, running or finished.
            job?.phase = .submitted
            job?.deadline = now + ticket.timeout
            return reconcile()
        }
        return trySubmit(now: now)
    }

    /// The job ends: recorded, then ComfyUI is free for the next.
    mutating func end(_ state: JobState, error: String? = nil, result: String? = nil) -> [JobAction] {
        guard job != nil else { return [] }
        return [.record(state, error: error, result: result, countAttempt: false)] + release()
    }

    /// ComfyUI's execution failed. The card running out of memory is not final the first time
    /// (issue 14): the job goes back in line, first, charged what the failure showed it needs,
    /// and the Scheduler makes that room (idle models go) before it runs again.
    mutating func endFailed(_ message: String) -> [JobAction] {
        guard let held = job else { return [] }
        guard OutOfMemory.matches(exceptionType: nil, message: message), held.ticket.memoryRetries == 0,
              !held.cancelRequested, held.interruptedAt == nil else {
            let hint = OutOfMemory.matches(exceptionType: nil, message: message)
                ? " (it ran out of memory again after a retry with more room; give it a larger vram, or free the card)" : ""
            return end(.failed, error: "ComfyUI failed: \(message)\(hint)")
        }
        job = nil
        awaiting = nil
        return [.retryForMemory(message: message)]
    }

    mutating func release() -> [JobAction] {
        guard job != nil else { return [] }
        job = nil
        awaiting = nil
        return [.release]
    }

    /// Records `running` when the job is still `submitted`: ComfyUI executes it.
    func markRunning() -> [JobAction] {
        job?.ticket.state == .submitted ? [.record(.running, error: nil, result: nil, countAttempt: false)] : []
    }
}

/// What /ws says of ComfyUI: whether it is connected (without it events are missed, so
/// /history is asked every tick) and the queue length of its last `status` message.
public struct ComfyLink: Sendable, Equatable {
    public var connected = false
    /// nil until a `status` arrives on the current connection.
    public var queueRemaining: Int?
    /// When that `status` arrived.
    public var reportedAt: ContinuousClock.Instant?

    public init() {}

    mutating func observe(connected: Bool) {
        self.connected = connected
        queueRemaining = nil
        reportedAt = nil
    }

    mutating func observe(queueRemaining remaining: Int, at now: ContinuousClock.Instant) {
        queueRemaining = remaining
        reportedAt = now
    }

    /// ComfyUI's queue was empty at its last report, made within `trust`, so no one else's
    /// prompt can be in it (each submission is broadcast as a new `status`): /queue need not
    /// be asked. An older report is not believed: the connection may have died silently.
    public func queueKnownEmpty(now: ContinuousClock.Instant, trust: Duration) -> Bool {
        guard connected, queueRemaining == 0, let reportedAt else { return false }
        return now - reportedAt <= trust
    }
}
