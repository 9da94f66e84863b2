import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore

/// What the job runner is told: a job to run, what ComfyUI's /ws says, time passing, a cancel.
enum RunnerInput: Sendable {
    /// The Scheduler gave ComfyUI to this job; `resumed`: ComfyUI may hold it already.
    case admitted(jobID: String, resumed: Bool)
    case comfy(ComfyStreamItem)
    case tick
    case cancel(String)
}

/// The Supervisor's record of ComfyUI jobs, beside the Scheduler that admits them.
struct JobsState {
    var requestOf: [String: Scheduler.RequestID] = [:]
    var jobOf: [Scheduler.RequestID: String] = [:]
    /// The job the runner holds now.
    var withRunner: String?
    var progress: [String: JobProgress] = [:]
    /// Bumped whenever ComfyUI's memory changes hands: a /system_stats answer taken before is stale.
    var comfyEpoch = 0
    /// Jobs taken up after a restart that ComfyUI may already hold (submitted or running).
    var resumed: Set<String> = []
    /// The workflow of each job in line, to learn its peak by.
    var workflowOf: [String: String] = [:]
    /// What each workflow's job was seen to take (learned peaks).
    var meter = JobPeakMeter()
    /// When the runner took each job (its last attempt), for `trace.arrival`.
    var startedAt: [String: ContinuousClock.Instant] = [:]
}

extension Supervisor {
    /// Writes a new job (queued), then puts it in line. The write happens off the actor, so
    /// submissions that arrive together share one commit.
    nonisolated func enqueue(_ record: JobRecord) async throws -> JobInfo {
        try await insert(record, what: "the job")
        return await line(record)
    }

    /// Writes a new job, sharing a commit with the others that arrive together.
    nonisolated func insert(_ record: JobRecord, what: String) async throws {
        do {
            try await store.insertGrouped(record)
        } catch {
            throw JobError.store(action: "could not queue \(what)", error)
        }
    }

    private func line(_ record: JobRecord) -> JobInfo {
        events.publish(DaemonEvent(.jobState, job: record.id, state: JobState.queued.rawValue))
        request(record, resumed: false)
        return info(record)
    }

    private func request(_ record: JobRecord, resumed: Bool) {
        let id = residency.nextRequestID
        residency.nextRequestID += 1
        jobs.requestOf[record.id] = id
        jobs.jobOf[id] = record.id
        if let workflow = record.workflow { jobs.workflowOf[record.id] = workflow }
        apply(.jobRequested(id, bytes: record.vramBytes, requestClass: record.jobClass, resumed: resumed))
    }

    /// At start: jobs ComfyUI may hold (submitted, running) are resumed first and reconciled by
    /// the runner; admitted ones go back in line; queued ones keep their order. Returns how many.
    func restoreJobs() async -> Int {
        do {
            // Pipeline runs are not ComfyUI jobs: the PipelineService resumes them.
            let open = try store.jobs(in: [.submitted, .running, .admitted, .queued]).filter { $0.kind != .pipeline }
            for record in open where record.state == .submitted || record.state == .running {
                jobs.resumed.insert(record.id)
                request(record, resumed: true)
            }
            for var record in open where record.state == .admitted || record.state == .queued {
                if record.state == .admitted {
                    record = try await store.transitionWaiting(jobID: record.id, to: .queued)
                }
                request(record, resumed: false)
            }
            return open.count
        } catch {
            logger.error("could not read the queued jobs: \(error.message)")
            return 0
        }
    }

    /// The Scheduler gave ComfyUI to a job: recorded, then handed to the runner.
    func jobAdmitted(_ id: Scheduler.RequestID) {
        guard let jobID = jobs.jobOf[id] else { return apply(.finished(id)) }
        // The runner records it admitted (or, resumed, reads it as it was), off this actor.
        let resumed = jobs.resumed.remove(jobID) != nil
        jobs.withRunner = jobID
        jobs.meter.started(workflow: jobs.workflowOf[jobID])
        jobs.startedAt[jobID] = .now
        jobs.comfyEpoch += 1
        runner.yield(.admitted(jobID: jobID, resumed: resumed))
    }

    /// The Scheduler refused a job (it can never fit).
    func jobRefused(_ id: Scheduler.RequestID, _ failure: Scheduler.Failure) {
        guard let jobID = jobs.jobOf.removeValue(forKey: id) else { return }
        jobs.requestOf[jobID] = nil
        work.yield(.recordJob(jobID, .failed, error: refusal(for: failure).jobMessage(jobID)))
    }

    /// The runner is done with a job (it ended, or goes back in line): ComfyUI is free again.
    func jobReleased(_ jobID: String) {
        if jobs.withRunner == jobID {
            jobs.withRunner = nil
            // What the workflow was seen to take is what its next job is charged (JobService).
            if let learned = jobs.meter.ended() {
                work.yield(.recordFootprint(subject: Self.footprintSubject(workflow: learned.workflow), bytes: learned.bytes))
            }
        }
        jobs.workflowOf[jobID] = nil
        jobs.progress[jobID] = nil
        jobs.comfyEpoch += 1
        guard let id = jobs.requestOf.removeValue(forKey: jobID) else { return }
        jobs.jobOf[id] = nil
        apply(.finished(id))
    }

    /// ComfyUI could not be reached before it took the job: the job goes back in line, first,
    /// and waits for ComfyUI (never failed for that alone).
    func requeue(_ jobID: String, reason: String) async {
        jobReleased(jobID)
        guard let queued = await record(jobID, .queued, error: nil) else { return }
        logger.warning("job \(jobID) waits for ComfyUI: \(reason)")
        apply(.backendAvailable(.comfyui, false))
        request(queued, resumed: true)
    }

    /// The card ran out of memory under the job (its first time): it goes back in line, first,
    /// under a new prompt id, charged what the failure showed it needs, and its workflow's
    /// next jobs are charged that too; the Scheduler makes the room (idle models go) before
    /// it runs again. If the store cannot take that, the job fails with the reason.
    func retryForMemory(_ jobID: String, message: String) async {
        let workflow = jobs.workflowOf[jobID]
        jobReleased(jobID)
        guard let open = storedOpenJob(jobID) else { return }
        let charge = OutOfMemory.retryCharge(charged: open.vramBytes, message: message)
        let budget = residency.scheduler.budget
        guard charge <= budget else {
            await record(jobID, .failed, error: "ComfyUI failed: \(message); the job would need about \(ByteSize(bytes: charge)), more than the \(ByteSize(bytes: budget)) gpuctld may use on this card, so it is not retried (lower its resolution or batch size)")
            return
        }
        let note = "the card ran out of memory under the job (\(message)); it runs again once, charged \(ByteSize(bytes: charge)) instead of \(ByteSize(bytes: open.vramBytes)), after room is made"
        let updated: JobRecord
        do {
            updated = try await store.retryAfterOutOfMemory(jobID: jobID, promptID: UUID().uuidString.lowercased(),
                                                            vramBytes: charge, message: note)
        } catch {
            await record(jobID, .failed, error: "ComfyUI failed: \(message) (and it could not be put back in line: \(error.message))")
            return
        }
        logger.warning("job \(jobID): \(note)")
        events.publish(DaemonEvent(.jobState, job: jobID, state: JobState.queued.rawValue, error: note))
        metrics.jobRetriedForMemory()
        if let workflow { work.yield(.recordFootprint(subject: Self.footprintSubject(workflow: workflow), bytes: charge)) }
        request(updated, resumed: true)
    }

    /// Records a state change, then tells those waiting on the job. nil when it had already
    /// ended (a late event: the first end wins). Written on the store's own writer, off the
    /// actor: the Supervisor never waits on SQLite for a job's state.
    @discardableResult
    nonisolated func record(_ jobID: String, _ state: JobState, error: String? = nil, result: String? = nil,
                            countAttempt: Bool = false) async -> JobRecord? {
        let updated: JobRecord
        do {
            updated = try await store.transitionWaiting(jobID: jobID, to: state, error: error, result: result,
                                                        countAttempt: countAttempt)
        } catch {
            logger.warning("job \(jobID): \(error.message)")
            return nil
        }
        logger.info("job \(jobID) is \(state.rawValue)", metadata: error.map { ["job.error": "\($0)"] } ?? [:])
        events.publish(DaemonEvent(.jobState, job: jobID, state: state.rawValue, error: error))
        if state.isFinal {
            metrics.jobFinished(state)
            await traceArrival(of: updated)
        }
        return updated
    }

    /// A workflow job that ended (a raw graph has no workflow to replay it by): what
    /// `gpuctl trace record` keeps of it. A job cancelled before it ran needed nothing.
    private func traceArrival(of job: JobRecord) {
        let started = jobs.startedAt.removeValue(forKey: job.id)
        guard job.kind != .pipeline, let workflow = job.workflow, job.state != .cancelled || started != nil else { return }
        events.publish(DaemonEvent(.traceArrival, job: job.id, arrival: .init(
            at: job.createdAt.timeIntervalSince1970, workflow: workflow, requestClass: job.jobClass,
            client: "jobs", serviceSeconds: started.map { Self.seconds(.now - $0) })))
    }

    func progress(_ jobID: String, _ progress: JobProgress) {
        jobs.progress[jobID] = progress
        events.publish(DaemonEvent(.jobProgress, job: jobID, progress: progress))
    }

    /// The job now and, unless it has ended, its events from now on (state changes and
    /// progress, from the EventHub, which every change goes through anyway).
    func watch(_ jobID: String) throws -> (JobInfo, AsyncStream<DaemonEvent>?) {
        let current = try job(jobID)
        guard !current.isFinal else { return (current, nil) }
        // On the actor: no change can be published between the read and the subscription.
        return (current, events.subscribe(filter: ["job"], job: jobID))
    }

    /// How many `jobs.wait` calls follow the job now (so a test can start work once one does).
    public func watcherCount(_ jobID: String) -> Int { events.subscriberCount(job: jobID) }

    /// Cancels a job that waits in line at once; one the runner holds is handed to it (it
    /// deletes or interrupts it in ComfyUI). Returns false when the runner has it.
    func cancelWaiting(job jobID: String) async throws -> Bool {
        let record = try stored(jobID)
        guard !record.state.isFinal else {
            throw JobError.alreadyEnded(jobID, record.state)
        }
        if jobs.withRunner == jobID {
            runner.yield(.cancel(jobID))
            return false
        }
        if let id = jobs.requestOf.removeValue(forKey: jobID) {
            jobs.jobOf[id] = nil
            apply(.cancelled(id))
        }
        await self.record(jobID, .cancelled, error: "cancelled before it ran")
        return true
    }

    /// Jobs that wait for the card or for their turn with ComfyUI (queued, or admitted and not
    /// yet submitted), in the order the Scheduler takes them: interactive first, then by age.
    nonisolated func waitingJobs() -> [JobRecord] {
        let open = ((try? store.jobs(in: [.queued, .admitted])) ?? []).filter { $0.kind != .pipeline }
        return open.enumerated().sorted { left, right in
            let (a, b) = (left.element.jobClass == .interactive ? 0 : 1, right.element.jobClass == .interactive ? 0 : 1)
            return a != b ? a < b : left.offset < right.offset
        }.map(\.element)
    }

    /// A job's row, nil when there is none (or the store cannot say).
    nonisolated func storedJob(_ jobID: String) -> JobRecord? { try? store.job(id: jobID) }

    /// The job the runner holds now (given to ComfyUI, or about to be).
    var jobWithRunner: String? { jobs.withRunner }

    /// A job the runner takes up again after a restart, as stored; nil when it ended meanwhile.
    nonisolated func storedOpenJob(_ jobID: String) -> JobRecord? {
        guard let stored = try? store.job(id: jobID), !stored.state.isFinal else { return nil }
        return stored
    }

    /// The job's row, or `job_not_found`; a store failure is `internal`.
    private func stored(_ jobID: String) throws -> JobRecord {
        let found: JobRecord?
        do { found = try store.job(id: jobID) } catch { throw JobError.store(action: "", error) }
        guard let record = found else { throw JobError.notFound(jobID) }
        return record
    }

    func job(_ jobID: String, history: Bool = false) throws -> JobInfo {
        let record = try stored(jobID)
        var result = info(record)
        if record.kind == .pipeline { result.steps = pipelineSteps(record) }
        if history {
            result.history = ((try? store.events(jobID: jobID)) ?? []).compactMap { event in
                event.state.map { JobStateChange(at: event.at.formatted(.iso8601), state: $0.rawValue, message: event.message) }
            }
        }
        return result
    }

    func listJobs(limit: Int, states: [JobState]?) throws -> JobsListResult {
        do {
            return JobsListResult(jobs: try store.recentJobs(limit: limit, states: states).map { info($0) })
        } catch {
            throw JobError.store(action: "", error)
        }
    }

    /// From the row's columns alone: no graph is parsed to list jobs.
    func info(_ record: JobRecord) -> JobInfo {
        guard record.kind != .pipeline else { return pipelineInfo(record) }
        return JobInfo(id: record.id, state: record.state.rawValue, jobClass: record.jobClass.rawValue, workflow: record.workflow,
                       promptId: record.promptID, attempts: record.attempts, vram: ByteSize(bytes: record.vramBytes),
                       timeoutSeconds: record.timeoutSeconds, createdAt: record.createdAt.formatted(.iso8601),
                       updatedAt: record.updatedAt.formatted(.iso8601), error: record.error,
                       outputs: record.result.flatMap(JobSpec.outputs), progress: jobs.progress[record.id])
    }

    /// What ComfyUI holds now, from /system_stats; dropped when a job or a /free started or
    /// ended since it was asked for.
    func observe(comfyHeld bytes: UInt64, epoch: Int) {
        guard epoch == jobs.comfyEpoch else { return }
        jobs.meter.observed(bytes)
        apply(.backendObserved(.comfyui, bytes: bytes))
    }

    var comfyEpoch: Int { jobs.comfyEpoch }

    /// A backend's free finished (or the backend is gone, and its memory with it).
    func freed(_ backend: Backend) {
        if backend == .comfyui {
            jobs.comfyEpoch += 1
            jobs.meter.freed()
        }
        apply(.freed(backend))
    }

    /// A backend's free ended with memory still held: it stays charged (at `stillHeld` when
    /// known) and is asked again after the Scheduler's retry delay.
    func freeFailed(_ backend: Backend, stillHeld: UInt64?) {
        if backend == .comfyui { jobs.comfyEpoch += 1 }
        apply(.freeFailed(backend, stillHeld: stillHeld))
    }

    /// A backend that could not be asked to free (its port refuses connections). Its process
    /// is gone, and its memory with it, unless the GPU's process list still shows it holding
    /// some; with no list to ask (a declared card) the refused connection is the evidence.
    func freeUnanswered(_ backend: Backend, because reason: String) {
        let owner: VRAMBudget.Owner = backend == .ollama ? .ollama : .comfyui
        let holding = gpu.source == .declared ? 0
            : gpu.processes.filter { $0.owner == owner.rawValue }.map(\.used.bytes).saturatingSum()
        if holding > ComfyFreeResult.residue {
            logger.warning("\(backend.rawValue) could not be asked to free (\(reason)) and the GPU shows its processes holding \(ByteSize(bytes: holding)); not handed over")
            freeFailed(backend, stillHeld: holding)
        } else {
            logger.notice("\(backend.rawValue) refuses connections (\(reason)): its memory is taken as gone with its process")
            freed(backend)
        }
    }

    /// Bumped whenever what `backend` holds changes hands: a probe taken before is stale.
    func holdingsEpoch(_ backend: Backend) -> Int {
        backend == .comfyui ? jobs.comfyEpoch : residency.epoch
    }

    /// What a probe found a backend holding.
    func observe(_ holdings: BackendHoldings, of backend: Backend, epoch: Int) {
        switch holdings {
        case .models(let running): observe(running: running, of: backend, epoch: epoch)
        case .workingSet(let bytes): observe(comfyHeld: bytes, epoch: epoch)
        }
    }
}
