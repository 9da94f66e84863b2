import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import Logging
import ServiceLifecycle

/// Carries out the job lifecycle's decisions for ComfyUI jobs, one at a time: it puts the
/// lifecycle's questions to ComfyUI (submit under gpuctld's own prompt_id, /queue, /history,
/// outputs) and to the Supervisor (which writes every state change to the store first), and
/// feeds each answer back. What to do next is never decided here: see `JobLifecycle`.
struct ComfyJobRunner: Service {
    let comfyui: ComfyUIClient
    let supervisor: Supervisor
    let inputs: AsyncStream<RunnerInput>
    /// The same stream's input side: /ws items and ticks are fed into it.
    let feed: AsyncStream<RunnerInput>.Continuation
    let clientID: String
    let outputs: JobOutputs
    var settings = JobLifecycle.Settings()
    /// /ws messages waiting for this runner, bounded (shared with the ComfyUI door's pages).
    var backlog = WebSocketBacklog()
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { [backlog] in await comfyui.follow(clientID: clientID) { backlog.feed($0, into: feed) } }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: settings.tickInterval)
                        feed.yield(.tick)
                    }
                }
                var own = settings
                own.ownClientID = clientID
                var lifecycle = JobLifecycle(settings: own)
                var held: HeldJob?
                for await input in inputs {
                    let event: JobEvent?
                    switch input {
                    case .admitted(let jobID, let resumed):
                        // Queued: one write moves it on (and refuses a job that ended meanwhile).
                        let record = resumed ? supervisor.storedOpenJob(jobID) : await supervisor.record(jobID, .admitted)
                        guard let record else {
                            await supervisor.jobReleased(jobID)
                            continue
                        }
                        let job = AdmittedJob(record)
                        held = HeldJob(job: job)
                        event = .admitted(job.ticket)
                    case .cancel(let jobID): event = .cancel(jobID: jobID)
                    case .comfy(let item): event = JobEvent(item)
                    case .tick: event = .tick
                    }
                    if let event { await drive(event, &lifecycle, &held) }
                    // Caught up after dropping /ws messages: carry on as after a reconnect.
                    if case .comfy = input, let resumed = backlog.took(), let event = JobEvent(resumed) {
                        await drive(event, &lifecycle, &held)
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// The job being carried out, with what the actions need beyond the lifecycle's view of it.
    struct HeldJob {
        let job: AdmittedJob
        /// The last /history entry asked for: its outputs are what `collectOutputs` saves.
        var lastEntry: HistoryEntry?
        var jobID: String { job.record.id }
        var promptID: String { job.ticket.promptID }
    }

    /// Feeds one event and carries out every action it leads to, answers included, in order.
    private func drive(_ event: JobEvent, _ lifecycle: inout JobLifecycle, _ held: inout HeldJob?) async {
        var pending = lifecycle.handle(event, now: .now)
        while !pending.isEmpty {
            let action = pending.removeFirst()
            guard held != nil, let answer = await perform(action, &held!) else { continue }
            pending += lifecycle.handle(answer, now: .now)
        }
    }

    /// One action; returns the answer when the action is a question.
    private func perform(_ action: JobAction, _ held: inout HeldJob) async -> JobEvent? {
        switch action {
        case .askQueue:
            do {
                return .queueAnswered(ComfyQueueView(try await comfyui.queue()))
            } catch {
                return .unanswered(reason: error.message)
            }
        case .askHistory:
            do {
                held.lastEntry = try await comfyui.history(held.promptID)
                return .historyAnswered(held.lastEntry.map(ComfyHistoryOutcome.init))
            } catch {
                return .unanswered(reason: error.message)
            }
        case .record(let state, let error, let result, let countAttempt):
            guard let record = await supervisor.record(held.jobID, state, error: error, result: result,
                                                       countAttempt: countAttempt) else { return .recordRefused(state) }
            return .recorded(record.state, attempts: record.attempts)
        case .submit:
            return .submitAnswered(await submit(held))
        case .stop:
            try? await comfyui.deleteFromQueue([held.promptID])
            try? await comfyui.interrupt(held.promptID)
        case .collectOutputs:
            do {
                let files = try await outputs.collect(jobID: held.jobID, outputs: held.lastEntry?.outputs ?? [:])
                return .outputsSaved(result: JobSpec.result(files))
            } catch let error as ComfyUIError where error.kind == .unreachable || error.kind == .timeout {
                return .outputsFailed(reason: error.message, retryable: true)
            } catch {
                return .outputsFailed(reason: "\(error)", retryable: false)
            }
        case .progress(let progress):
            await supervisor.progress(held.jobID, progress)
        case .handBack(let reason):
            await supervisor.requeue(held.jobID, reason: reason)
        case .retryForMemory(let message):
            await supervisor.retryForMemory(held.jobID, message: message)
        case .release:
            await supervisor.jobReleased(held.jobID)
        case .log(.info, let message):
            logger.info("\(message)")
        case .log(.warning, let message):
            logger.warning("\(message)")
        }
        return nil
    }

    private func submit(_ held: HeldJob) async -> ComfySubmitOutcome {
        do {
            let spec = held.job.spec
            let reply = try await comfyui.submit(graph: spec.graph, clientID: spec.clientID ?? clientID, promptID: held.promptID,
                                                 extraData: spec.extraData)
            if reply.nodeErrors.objectValue?.isEmpty == false {
                logger.warning("ComfyUI dropped some outputs of job \(held.jobID): \(reply.nodeErrors.jsonText)")
            }
            return .accepted
        } catch {
            switch error.kind {
            case .http where error.status == 400: return .refused(message: error.message)
            case .unreachable: return .unreachable(reason: error.message)
            default: return .unclear
            }
        }
    }
}
