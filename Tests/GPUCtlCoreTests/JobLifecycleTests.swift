import GPUCtlCore
import GPUCtlModels
import Testing

/// A ComfyUI as plain values: the lifecycle's questions are answered from it the way the
/// runner answers them from the real one (in order, each answer fed back before the next).
struct ScriptedComfy {
    var queue = ComfyQueueView(running: [], pending: [])
    var history: ComfyHistoryOutcome?
    var reachable = true
    var submitOutcome = ComfySubmitOutcome.accepted
    var outputs = JobEvent.outputsSaved(result: #"{"outputs":[]}"#)
    /// The store: the job's state and attempts.
    var state = JobState.admitted
    var attempts = 0

    mutating func answer(_ action: JobAction) -> JobEvent? {
        switch action {
        case .askQueue: return reachable ? .queueAnswered(queue) : .unanswered(reason: "ComfyUI is not reachable")
        case .askHistory: return reachable ? .historyAnswered(history) : .unanswered(reason: "ComfyUI is not reachable")
        case .submit: return .submitAnswered(submitOutcome)
        case .collectOutputs: return outputs
        case .record(let next, _, _, let countAttempt):
            guard !state.isFinal else { return .recordRefused(next) }
            state = next
            if countAttempt { attempts += 1 }
            return .recorded(next, attempts: attempts)
        default: return nil
        }
    }
}

/// Drives a lifecycle against a `ScriptedComfy`, keeping every action it took.
struct LifecycleHarness {
    var lifecycle: JobLifecycle
    var comfy = ScriptedComfy()
    let start = ContinuousClock.now
    var now: ContinuousClock.Instant
    var log: [JobAction] = []

    init(settings: JobLifecycle.Settings = .init()) {
        lifecycle = JobLifecycle(settings: settings)
        now = start
    }

    /// Sends one event at `seconds` after the start; returns the actions it led to, answers included.
    @discardableResult
    mutating func send(_ event: JobEvent, at seconds: Double? = nil) -> [JobAction] {
        if let seconds { now = start + .milliseconds(Int(seconds * 1000)) }
        var pending = lifecycle.handle(event, now: now)
        var taken: [JobAction] = []
        while !pending.isEmpty {
            let action = pending.removeFirst()
            taken.append(action)
            if let answer = comfy.answer(action) { pending += lifecycle.handle(answer, now: now) }
        }
        log += taken
        return taken
    }

    static func ticket(_ state: JobState = .admitted, attempts: Int = 0, timeout: Duration = .seconds(60)) -> JobLifecycle.Ticket {
        .init(jobID: "j1", promptID: "p1", state: state, attempts: attempts, timeout: timeout,
              nodeTypes: ["1": "CheckpointLoaderSimple", "3": "KSampler", "9": "SaveImage"])
    }

    /// A job admitted while /ws is up and ComfyUI's queue is reported empty.
    static func submitted(settings: JobLifecycle.Settings = .init()) -> LifecycleHarness {
        var harness = LifecycleHarness(settings: settings)
        harness.send(.connected)
        harness.send(.queueReported(remaining: 0))
        harness.send(.admitted(ticket()))
        return harness
    }

    var ended: JobState? {
        for action in log.reversed() {
            if case .record(let state, _, _, _) = action, state.isFinal { return state }
        }
        return nil
    }

    var lastError: String? {
        for action in log.reversed() {
            if case .record(_, let error?, _, _) = action { return error }
        }
        return nil
    }

    static func record(_ state: JobState, error: String? = nil, result: String? = nil, attempt: Bool = false) -> JobAction {
        .record(state, error: error, result: result, countAttempt: attempt)
    }
}

/// Submitting: the queue is looked at unless /ws says it is empty, someone else's work is
/// waited for, and every answer of POST /prompt has its own path.
@Suite struct JobLifecycleSubmitTests {
    typealias H = LifecycleHarness

    @Test func aJobIsRecordedSubmittedThenSent() {
        var h = H()
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        #expect(h.send(.admitted(H.ticket())) == [H.record(.submitted, attempt: true), .submit])
        #expect(h.lifecycle.job?.phase == .submitted && h.comfy.attempts == 1)
    }

    @Test func withoutAnEmptyQueueReportTheQueueIsAskedFirst() {
        var h = H()
        #expect(h.send(.admitted(H.ticket())) == [.askQueue, H.record(.submitted, attempt: true), .submit])
    }

    @Test func someoneElsesPromptIsWaitedForThenTheJobGoes() {
        var h = H()
        h.comfy.queue = .init(running: [.init(promptID: "theirs", clientID: "browser")], pending: [])
        let first = h.send(.admitted(H.ticket()))
        #expect(first.first == .askQueue && !first.contains(.submit))
        #expect(h.lifecycle.job?.phase == .waitingForComfy)
        // Looked at again only after a second.
        #expect(h.send(.tick, at: 0.5) == [])
        // Another gpuctld's prompt (another card's daemon, another id) is someone else's too.
        h.comfy.queue = .init(running: [.init(promptID: "other-gpuctld", clientID: "gpuctld-x")], pending: [])
        #expect(h.send(.tick, at: 1.0) == [.askQueue, .log(.info, "job j1 waits for 1 prompt(s) someone else queued in ComfyUI")])
        // A leftover of this gpuctld's own id is not waited for.
        h.comfy.queue = .init(running: [.init(promptID: "mine", clientID: JobLifecycle.Settings().ownClientID)], pending: [])
        #expect(h.send(.tick, at: 2.0) == [.askQueue, H.record(.submitted, attempt: true), .submit])
    }

    /// An empty queue reported over /ws is believed for a while only: a connection that died
    /// without a word reports nothing more, so an old report means asking /queue.
    @Test func anOldEmptyQueueReportIsNotTrusted() {
        var h = H()
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        #expect(h.send(.admitted(H.ticket()), at: 10) == [.askQueue, H.record(.submitted, attempt: true), .submit])
    }

    @Test func anUnreachableComfyUIHandsTheJobBack() {
        var h = H()
        h.comfy.reachable = false
        #expect(h.send(.admitted(H.ticket())) == [.askQueue, .handBack(reason: "ComfyUI is not reachable")])
        #expect(h.lifecycle.job == nil)
    }

    @Test func aRefusedGraphFailsTheJob() {
        var h = H()
        h.comfy.submitOutcome = .refused(message: "node 3 has no input seed")
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        h.send(.admitted(H.ticket()))
        #expect(h.ended == .failed && h.lastError == "ComfyUI refused the graph: node 3 has no input seed")
        #expect(h.log.last == .release && h.lifecycle.job == nil)
    }

    @Test func aSubmitThatNeverReachedComfyUIIsHandedBack() {
        var h = H()
        h.comfy.submitOutcome = .unreachable(reason: "connection refused")
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        #expect(h.send(.admitted(H.ticket())).last == .handBack(reason: "connection refused"))
    }

    @Test func anUnclearSubmitIsReconciledAndFoundQueued() {
        var h = H()
        h.comfy.submitOutcome = .unclear
        h.comfy.queue = .init(running: [], pending: [.init(promptID: "p1", clientID: "gpuctld-x")])
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        #expect(h.send(.admitted(H.ticket())) == [H.record(.submitted, attempt: true), .submit, .askHistory, .askQueue])
        #expect(h.lifecycle.job?.needsReconcile == false && h.comfy.attempts == 1)
    }

    @Test func aRecordRefusedBeforeSubmittingReleasesWithoutSending() {
        var h = H()
        h.comfy.state = .cancelled
        h.send(.connected)
        h.send(.queueReported(remaining: 0))
        #expect(h.send(.admitted(H.ticket())) == [H.record(.submitted, attempt: true), .release])
    }
}
