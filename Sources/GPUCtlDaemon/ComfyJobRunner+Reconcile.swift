import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUCtlStore

extension ComfyJobRunner {
    // MARK: Reconciling

    /// Asks ComfyUI where the prompt is: finished (history) → finalize; queued or running →
    /// keep following; unknown (ComfyUI restarted) → submit again, up to `retryLimit`.
    func reconcile(_ active: inout ActiveJob?) async {
        guard let job = active else { return }
        do {
            if let entry = try await comfyui.history(job.promptID) { return await finalize(entry, &active) }
            if job.phase == .finishing {
                // execution_success comes just before ComfyUI writes its history.
                return
            }
            let queue = try await comfyui.queue()
            if (queue.running + queue.pending).contains(where: { $0.promptID == job.promptID }) {
                active?.needsReconcile = false
                // Its execution_start was sent while /ws was not heard: it runs all the same.
                if queue.running.contains(where: { $0.promptID == job.promptID }), job.record.state == .submitted,
                   let running = await supervisor.record(job.id, .running) {
                    active?.record = running
                }
                return
            }
            // It may have finished between the two questions.
            if let entry = try await comfyui.history(job.promptID) { return await finalize(entry, &active) }
        } catch {
            // Unreachable or failing: the job stays; the next tick asks again.
            active?.needsReconcile = true
            return
        }
        active?.needsReconcile = false
        if job.cancelRequested { return await end(&active, .cancelled, error: "cancelled") }
        if job.interruptedAt != nil { return await endInterrupted(&active) }
        guard job.record.attempts < retryLimit else {
            return await end(&active, .failed, error: "ComfyUI lost job \(job.id) \(job.record.attempts) times (did it restart while the job ran?); submit it again with gpuctl run")
        }
        logger.warning("ComfyUI does not know job \(job.id) (prompt \(job.promptID)); submitting it again")
        await submit(&active)
    }

    func finalize(_ entry: HistoryEntry, _ active: inout ActiveJob?) async {
        guard var job = active else { return }
        // It ran while /ws was not heard (not yet connected, or reconnecting): the record still
        // passes through running, as every job ComfyUI executed does.
        if job.record.state == .submitted, let running = await supervisor.record(job.id, .running) {
            job.record = running
            active = job
        }
        if entry.statusString == "success" {
            do {
                let files = try await outputs.collect(jobID: job.id, outputs: entry.outputs)
                await end(&active, .succeeded, result: JobSpec.result(files))
            } catch let error as ComfyUIError where error.kind == .unreachable || error.kind == .timeout {
                // Try again on the next tick.
                active?.phase = .finishing
            } catch {
                await end(&active, .failed, error: "the job ran but its outputs could not be saved: \(error)")
            }
            return
        }
        for message in entry.messages.reversed() {
            guard case .array(let pair) = message, pair.count == 2, let type = pair[0].stringValue else { continue }
            let frame = JSONWriter.data(["type": .string(type), "data": pair[1]])
            switch ComfyEvent(text: frame) {
            case .executionError(let failure)?: return await end(&active, .failed, error: "ComfyUI failed: \(failure.message)")
            case .executionInterrupted?: return await endInterrupted(&active)
            default: continue
            }
        }
        await end(&active, .failed, error: "ComfyUI ended the job with status '\(entry.statusString)' and no error message")
    }

    func endInterrupted(_ active: inout ActiveJob?) async {
        guard let job = active else { return }
        if job.cancelRequested { return await end(&active, .cancelled, error: "cancelled while it ran") }
        if job.interruptedAt != nil {
            return await end(&active, .failed, error: "job \(job.id) ran longer than its timeout of \(Int(job.spec.timeoutSeconds)) s and was interrupted; raise it with --timeout")
        }
        await end(&active, .failed, error: "the job was interrupted in ComfyUI (not by gpuctl)")
    }

    // MARK: Cancelling and ending

    func cancel(_ active: inout ActiveJob?) async {
        guard let job = active else { return }
        active?.cancelRequested = true
        if job.phase == .waitingForComfy { return await end(&active, .cancelled, error: "cancelled before it ran") }
        try? await comfyui.deleteFromQueue([job.promptID])
        try? await comfyui.interrupt(job.promptID)
        await reconcile(&active)
    }

    func end(_ active: inout ActiveJob?, _ state: JobState, error: String? = nil, result: String? = nil) async {
        guard let job = active else { return }
        await supervisor.record(job.id, state, error: error, result: result)
        await release(&active)
    }

    func release(_ active: inout ActiveJob?) async {
        guard let job = active else { return }
        active = nil
        await supervisor.jobReleased(job.id)
    }
}
