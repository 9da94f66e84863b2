import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore
import Logging
import ServiceLifecycle

/// Runs admitted ComfyUI jobs one at a time: submits each under gpuctld's own prompt_id,
/// follows it over `/ws`, collects its outputs, and reconciles with /history and /queue when
/// events may have been missed (a dropped socket, a restart, a quiet spell, an unclear submit).
/// Everything it learns goes through the Supervisor, which writes it to the store first.
struct ComfyJobRunner: Service {
    let comfyui: ComfyUIClient
    let supervisor: Supervisor
    let inputs: AsyncStream<RunnerInput>
    /// The same stream's input side: /ws items and ticks are fed into it.
    let feed: AsyncStream<RunnerInput>.Continuation
    let clientID: String
    let outputs: JobOutputs
    /// Submissions of one job before it fails because ComfyUI keeps losing it.
    var retryLimit = 3
    /// With no event for this long, /history and /queue are asked.
    var quietReconcile: Duration = .seconds(2)
    var tickInterval: Duration = .milliseconds(250)
    /// Progress goes to the Supervisor (and on to `jobs.wait` and `jobs.get`) at most this
    /// often; a tick sends what is left. A screen needs no more, and a fast job is not slowed
    /// by a notification per node.
    var progressInterval: Duration = .milliseconds(100)
    /// After an interrupt for a timeout, how long to wait for ComfyUI to confirm it.
    var interruptGrace: Duration = .seconds(30)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await comfyui.follow(clientID: clientID) { feed.yield(.comfy($0)) } }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: tickInterval)
                        feed.yield(.tick)
                    }
                }
                var active: ActiveJob?
                var link = ComfyLink()
                for await input in inputs {
                    if case .comfy(let item) = input { link.observe(item) }
                    await handle(input, &active, link: link)
                }
                group.cancelAll()
            }
        }
    }

    /// One job in the runner's hands.
    struct ActiveJob {
        enum Phase { case waitingForComfy, submitted, finishing }
        var record: JobRecord
        var rid: Scheduler.RequestID
        var spec: JobSpec
        var phase: Phase = .waitingForComfy
        var deadline: ContinuousClock.Instant = .now
        var lastHeard: ContinuousClock.Instant = .now
        var lastAttempt: ContinuousClock.Instant?
        var cancelRequested = false
        var interruptedAt: ContinuousClock.Instant?
        var needsReconcile = false
        var progress = JobProgress()
        var progressSentAt: ContinuousClock.Instant?
        /// Progress newer than what was last sent.
        var progressUnsent = false
        var done: Set<String> = []

        var id: String { record.id }
        var promptID: String { record.promptID ?? record.id }
    }

    /// What /ws says of ComfyUI: whether it is connected (without it events are missed, so
    /// /history is asked every tick) and the queue length of its last `status` message.
    struct ComfyLink {
        var connected = false
        /// nil until a `status` arrives on the current connection.
        var queueRemaining: Int?

        mutating func observe(_ item: ComfyStreamItem) {
            switch item {
            case .connected: connected = true; queueRemaining = nil
            case .disconnected: connected = false; queueRemaining = nil
            case .event(.status(let remaining, _)): queueRemaining = remaining
            case .event: break
            }
        }

        /// ComfyUI's queue was empty at its last report, so no one else's prompt can be in it
        /// (each submission is broadcast as a new `status`): /queue need not be asked.
        var queueKnownEmpty: Bool { connected && queueRemaining == 0 }
    }

    func handle(_ input: RunnerInput, _ active: inout ActiveJob?, link: ComfyLink) async {
        switch input {
        case .admitted(let record, let rid):
            var job = ActiveJob(record: record, rid: rid, spec: JobSpec(record))
            job.progress.nodesTotal = job.spec.nodeTypes.count
            active = job
            if record.state == .admitted {
                await trySubmit(&active, link: link)
            } else {
                // Resumed after a restart: ComfyUI may have it queued, running or finished.
                active?.phase = .submitted
                active?.deadline = .now + .seconds(job.spec.timeoutSeconds)
                await reconcile(&active)
            }
        case .cancel(let jobID):
            guard active?.id == jobID else { return }
            await cancel(&active)
        case .comfy(let item):
            guard active != nil else { return }
            await onComfy(item, &active)
        case .tick:
            guard active != nil else { return }
            await onTick(&active, link: link)
        }
    }

    // MARK: Submitting

    /// Submits when ComfyUI's queue holds no one else's work (that work is waited for). /queue
    /// is asked unless /ws last reported an empty queue (a millisecond saved on every job).
    private func trySubmit(_ active: inout ActiveJob?, link: ComfyLink) async {
        guard var job = active else { return }
        job.lastAttempt = .now
        active = job
        if link.queueKnownEmpty { return await submit(&active) }
        do {
            let queue = try await comfyui.queue()
            let foreign = (queue.running + queue.pending).filter { !($0.clientID ?? "").hasPrefix("gpuctld") && $0.promptID != job.promptID }
            if !foreign.isEmpty {
                if job.progress.node == nil { logger.info("job \(job.id) waits for \(foreign.count) prompt(s) someone else queued in ComfyUI") }
                return
            }
        } catch {
            return await handBack(&active, error)
        }
        await submit(&active)
    }

    func submit(_ active: inout ActiveJob?) async {
        guard var job = active else { return }
        guard let submitted = await supervisor.record(job.id, .submitted, countAttempt: true) else { return await release(&active) }
        job.record = submitted
        job.phase = .submitted
        job.deadline = .now + .seconds(job.spec.timeoutSeconds)
        job.lastHeard = .now
        job.done = []
        active = job
        do {
            let reply = try await comfyui.submit(graph: job.spec.graph, clientID: clientID, promptID: job.promptID)
            if reply.nodeErrors.objectValue?.isEmpty == false {
                logger.warning("ComfyUI dropped some outputs of job \(job.id): \(reply.nodeErrors.jsonText)")
            }
        } catch {
            switch error.kind {
            case .http where error.status == 400:
                await supervisor.record(job.id, .failed, error: "ComfyUI refused the graph: \(error.message)")
                await release(&active)
            case .unreachable:
                // ComfyUI never saw it.
                await handBack(&active, error)
            default:
                // It may or may not have been queued: ask.
                active?.needsReconcile = true
                await reconcile(&active)
            }
        }
    }

    /// ComfyUI is down before it took the job: the job goes back in line, first.
    func handBack(_ active: inout ActiveJob?, _ error: ComfyUIError) async {
        guard let job = active else { return }
        active = nil
        await supervisor.requeue(job.record, reason: error.message)
    }

    // MARK: Following

    private func onComfy(_ item: ComfyStreamItem, _ active: inout ActiveJob?) async {
        switch item {
        case .disconnected:
            active?.needsReconcile = true
        case .connected:
            if active?.needsReconcile == true, active?.phase != .waitingForComfy { await reconcile(&active) }
        case .event(let event):
            guard var job = active, job.phase != .waitingForComfy, event.promptID == job.promptID else { return }
            job.lastHeard = .now
            active = job
            await apply(event, &active)
        }
    }

    private func apply(_ event: ComfyEvent, _ active: inout ActiveJob?) async {
        guard var job = active else { return }
        // A node of ours executing means the prompt runs, even when its execution_start came
        // before /ws was connected (a job submitted as the daemon starts): without this it
        // would show as submitted until it ended.
        if job.record.state == .submitted, event.showsExecution, let running = await supervisor.record(job.id, .running) {
            job.record = running
        }
        switch event {
        case .executionStart:
            break
        case .executionCached(_, let nodes):
            job.done.formUnion(nodes)
        case .executing(_, let node?):
            if let previous = job.progress.node { job.done.insert(previous) }
            job.progress.node = node
            job.progress.nodeType = job.spec.nodeTypes[node]
            job.progress.value = nil
            job.progress.max = nil
        case .progress(_, let node, let value, let max):
            if let node { job.progress.node = node; job.progress.nodeType = job.spec.nodeTypes[node] }
            job.progress.value = value
            job.progress.max = max
        case .executed(_, let node, _):
            job.done.insert(node)
        case .executionSuccess:
            job.phase = .finishing
            active = job
            return await reconcile(&active)
        case .executionError(let failure):
            active = job
            return await end(&active, .failed, error: "ComfyUI failed: \(failure.message)")
        case .executionInterrupted:
            active = job
            return await endInterrupted(&active)
        default:
            return
        }
        job.progress.nodesDone = job.done.count
        job.progressUnsent = true
        active = job
        await sendProgress(&active, throttled: true)
    }

    private func sendProgress(_ active: inout ActiveJob?, throttled: Bool) async {
        guard var job = active, job.progressUnsent else { return }
        let now = ContinuousClock.now
        if throttled, let sent = job.progressSentAt, now - sent < progressInterval { return }
        job.progressSentAt = now
        job.progressUnsent = false
        active = job
        await supervisor.progress(job.id, job.progress)
    }

    private func onTick(_ active: inout ActiveJob?, link: ComfyLink) async {
        await sendProgress(&active, throttled: false)
        guard let job = active else { return }
        let quiet = link.connected ? quietReconcile : tickInterval
        let now = ContinuousClock.now
        switch job.phase {
        case .waitingForComfy:
            if now - (job.lastAttempt ?? .now - .seconds(10)) >= .seconds(1) { await trySubmit(&active, link: link) }
        case .submitted, .finishing:
            if let interruptedAt = job.interruptedAt, now - interruptedAt >= interruptGrace {
                return await endInterrupted(&active)
            }
            if job.interruptedAt == nil, now >= job.deadline, !job.cancelRequested {
                active?.interruptedAt = now
                logger.warning("job \(job.id) passed its timeout of \(job.spec.timeoutSeconds) s: interrupting it")
                try? await comfyui.deleteFromQueue([job.promptID])
                try? await comfyui.interrupt(job.promptID)
                return await reconcile(&active)
            }
            if job.needsReconcile || job.phase == .finishing || now - job.lastHeard >= quiet {
                active?.lastHeard = now
                await reconcile(&active)
            }
        }
    }
}

extension ComfyEvent {
    /// Whether ComfyUI sends this only while the prompt executes.
    fileprivate var showsExecution: Bool {
        switch self {
        case .executionStart, .executionCached, .executing(_, _?), .progress, .progressState, .executed: true
        default: false
        }
    }
}
