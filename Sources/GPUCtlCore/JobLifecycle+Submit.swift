import GPUCtlModels

extension JobLifecycle {
    // MARK: Submitting

    /// Submits when ComfyUI's queue holds no one else's work (that work is waited for). /queue
    /// is asked unless /ws reported an empty queue lately (a millisecond saved on every job).
    mutating func trySubmit(now: ContinuousClock.Instant) -> [JobAction] {
        guard job != nil else { return [] }
        job?.lastAttempt = now
        if link.queueKnownEmpty(now: now, trust: settings.queueReportTrust) { return submit() }
        awaiting = .queueBeforeSubmit
        return [.askQueue]
    }

    /// The submission is recorded (counting an attempt) before it is sent, so a restart
    /// reconciles it instead of forgetting it.
    mutating func submit() -> [JobAction] {
        guard job != nil else { return [] }
        awaiting = .submitRecorded
        return [.record(.submitted, error: nil, result: nil, countAttempt: true)]
    }

    mutating func submitRecorded(now: ContinuousClock.Instant) -> [JobAction] {
        guard var held = job else { return [] }
        held.phase = .submitted
        held.deadline = now + held.ticket.timeout
        held.lastHeard = now
        held.done = []
        job = held
        awaiting = .submit
        return [.submit]
    }

    /// The answers to `askQueue`, `askHistory`, `submit` and `collectOutputs`.
    mutating func answer(_ event: JobEvent, now: ContinuousClock.Instant) -> [JobAction] {
        guard let question = awaiting, let held = job else { return [] }
        awaiting = nil
        switch (question, event) {
        case (.queueBeforeSubmit, .queueAnswered(let queue)):
            let foreign = queue.foreign(besides: held.promptID, ownClientID: settings.ownClientID)
            guard foreign.isEmpty else {
                guard held.progress.node == nil else { return [] }
                return [.log(.info, "job \(held.jobID) waits for \(foreign.count) prompt(s) someone else queued in ComfyUI")]
            }
            return submit()
        case (.queueBeforeSubmit, .unanswered(let reason)):
            job = nil
            return [.handBack(reason: reason)]
        case (.submit, .submitAnswered(let outcome)):
            switch outcome {
            case .accepted: return []
            case .refused(let message): return end(.failed, error: "ComfyUI refused the graph: \(message)")
            case .unreachable(let reason):
                // ComfyUI never saw it.
                job = nil
                return [.handBack(reason: reason)]
            case .unclear:
                // It may or may not have been queued: ask.
                job?.needsReconcile = true
                return reconcile()
            }
        case (.history, .historyAnswered(let outcome?)):
            return finalize(outcome)
        case (.history(false), .historyAnswered(nil)):
            // execution_success comes just before ComfyUI writes its history.
            if held.phase == .finishing { return [] }
            awaiting = .queue
            return [.askQueue]
        case (.queue, .queueAnswered(let queue)):
            let listed = queue.running + queue.pending
            guard listed.contains(where: { $0.promptID == held.promptID }) else {
                // It may have finished between the two questions.
                awaiting = .history(again: true)
                return [.askHistory]
            }
            job?.needsReconcile = false
            // Its execution_start was sent while /ws was not heard: it runs all the same.
            return queue.running.contains(where: { $0.promptID == held.promptID }) ? markRunning() : []
        case (.history(true), .historyAnswered(nil)):
            return lost()
        case (.history, .unanswered), (.queue, .unanswered):
            // Unreachable or failing: the job stays; the next tick asks again.
            job?.needsReconcile = true
            return []
        case (.outputs, .outputsSaved(let result)):
            return end(.succeeded, result: result)
        case (.outputs, .outputsFailed(_, true)):
            job?.phase = .finishing
            return []
        case (.outputs, .outputsFailed(let reason, false)):
            return end(.failed, error: "the job ran but its outputs could not be saved: \(reason)")
        default:
            // An answer to a question not asked: the runner is out of step; keep waiting.
            awaiting = question
            return []
        }
    }

    // MARK: Reconciling

    /// Asks ComfyUI where the prompt is: finished (history) → finalize; queued or running →
    /// keep following; unknown (ComfyUI restarted) → submit again, up to `retryLimit`.
    mutating func reconcile() -> [JobAction] {
        guard job != nil else { return [] }
        awaiting = .history(again: false)
        return [.askHistory]
    }

    /// Neither /history nor /queue knows the prompt.
    private mutating func lost() -> [JobAction] {
        guard let held = job else { return [] }
        job?.needsReconcile = false
        if held.cancelRequested { return end(.cancelled, error: "cancelled") }
        if held.interruptedAt != nil { return endInterrupted() }
        guard held.ticket.attempts < settings.retryLimit else {
            return end(.failed, error: "ComfyUI lost job \(held.jobID) \(held.ticket.attempts) times (did it restart while the job ran?); submit it again with gpuctl run")
        }
        return [.log(.warning, "ComfyUI does not know job \(held.jobID) (prompt \(held.promptID)); submitting it again")] + submit()
    }

    /// The prompt is in /history. It ran while /ws was not heard when the job still shows as
    /// submitted: the record passes through running, as every job ComfyUI executed does.
    private mutating func finalize(_ outcome: ComfyHistoryOutcome) -> [JobAction] {
        let running = markRunning()
        switch outcome {
        case .succeeded:
            awaiting = .outputs
            return running + [.collectOutputs]
        case .failed(let message):
            return running + endFailed(message)
        case .interrupted:
            return running + endInterrupted()
        case .ended(let status):
            return running + end(.failed, error: "ComfyUI ended the job with status '\(status)' and no error message")
        }
    }

    /// ComfyUI interrupted the prompt: a cancel, a timeout, or someone else.
    mutating func endInterrupted() -> [JobAction] {
        guard let held = job else { return [] }
        if held.cancelRequested { return end(.cancelled, error: "cancelled while it ran") }
        if held.interruptedAt != nil {
            let seconds = Int(held.ticket.timeout.components.seconds)
            return end(.failed, error: "job \(held.jobID) ran longer than its timeout of \(seconds) s and was interrupted; raise it with --timeout")
        }
        return end(.failed, error: "the job was interrupted in ComfyUI (not by gpuctl)")
    }

    /// A cancel: at once when ComfyUI never had the job; else it is stopped there and the
    /// end is confirmed by reconciling.
    mutating func cancel() -> [JobAction] {
        guard let held = job else { return [] }
        job?.cancelRequested = true
        if held.phase == .waitingForComfy { return end(.cancelled, error: "cancelled before it ran") }
        return [.stop] + reconcile()
    }
}
