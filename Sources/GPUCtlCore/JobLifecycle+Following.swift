import GPUCtlModels

extension JobLifecycle {
    // MARK: Following

    /// A /ws message about the held prompt.
    mutating func apply(_ execution: ComfyExecution, now: ContinuousClock.Instant) -> [JobAction] {
        guard var held = job else { return [] }
        // A node of ours executing means the prompt runs, even when its execution_start came
        // before /ws was connected (a job submitted as the daemon starts): without this it
        // would show as submitted until it ended.
        let running = execution.showsExecution ? markRunning() : []
        switch execution {
        case .started:
            break
        case .cached(let nodes):
            held.done.formUnion(nodes)
        case .executing(let node?):
            if let previous = held.progress.node { held.done.insert(previous) }
            held.progress.node = node
            held.progress.nodeType = held.ticket.nodeTypes[node]
            held.progress.value = nil
            held.progress.max = nil
        case .progress(let node, let value, let max):
            if let node {
                held.progress.node = node
                held.progress.nodeType = held.ticket.nodeTypes[node]
            }
            held.progress.value = value
            held.progress.max = max
        case .executed(let node):
            held.done.insert(node)
        case .succeeded:
            held.phase = .finishing
            job = held
            return running + reconcile()
        case .failed(let message):
            return running + endFailed(message)
        case .interrupted:
            return running + endInterrupted()
        case .executing(nil), .progressState, .other:
            return running
        }
        held.progress.nodesDone = held.done.count
        held.progressUnsent = true
        job = held
        return running + sendProgress(now: now, throttled: true)
    }

    /// Progress newer than what was sent goes out, at most every `progressInterval` when
    /// `throttled`: a screen needs no more, and a fast job is not slowed by a notice per node.
    mutating func sendProgress(now: ContinuousClock.Instant, throttled: Bool) -> [JobAction] {
        guard var held = job, held.progressUnsent else { return [] }
        if throttled, let sent = held.progressSentAt, now - sent < settings.progressInterval { return [] }
        held.progressSentAt = now
        held.progressUnsent = false
        job = held
        return [.progress(held.progress)]
    }

    // MARK: Time

    /// Sends what progress is left, retries a submission that waits for someone else's work,
    /// interrupts a job past its timeout, and reconciles when events may have been missed.
    mutating func tick(now: ContinuousClock.Instant) -> [JobAction] {
        let progress = sendProgress(now: now, throttled: false)
        guard let held = job else { return progress }
        let quiet = link.connected ? settings.quietReconcile : settings.tickInterval
        switch held.phase {
        case .waitingForComfy:
            guard now - (held.lastAttempt ?? now - settings.submitRetry * 10) >= settings.submitRetry else { return progress }
            return progress + trySubmit(now: now)
        case .submitted, .finishing:
            if let interruptedAt = held.interruptedAt, now - interruptedAt >= settings.interruptGrace {
                return progress + endInterrupted()
            }
            if held.interruptedAt == nil, now >= held.deadline, !held.cancelRequested {
                job?.interruptedAt = now
                let seconds = Int(held.ticket.timeout.components.seconds)
                return progress + [.log(.warning, "job \(held.jobID) passed its timeout of \(seconds) s: interrupting it"), .stop]
                    + reconcile()
            }
            guard held.needsReconcile || held.phase == .finishing || now - held.lastHeard >= quiet else { return progress }
            job?.lastHeard = now
            return progress + reconcile()
        }
    }
}
