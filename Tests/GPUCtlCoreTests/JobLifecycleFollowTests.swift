import GPUCtlCore
import GPUCtlModels
import Testing

/// Following a submitted job over /ws, and reconciling with /history and /queue when events
/// may have been missed.
@Suite struct JobLifecycleFollowTests {
    typealias H = LifecycleHarness

    @Test func eventsMarkItRunningAndReportProgressAtMostEveryInterval() {
        var h = H.submitted()
        #expect(h.send(.execution(promptID: "p1", .started), at: 0.01) == [
            H.record(.running), .progress(JobProgress(nodesTotal: 3)),
        ])
        #expect(h.comfy.state == .running)
        // Within 100 ms of the last report: kept for later.
        #expect(h.send(.execution(promptID: "p1", .executing(node: "1")), at: 0.05) == [])
        #expect(h.send(.execution(promptID: "p1", .executing(node: "3")), at: 0.06) == [])
        let sampling = h.send(.execution(promptID: "p1", .progress(node: "3", value: 4, max: 20)), at: 0.2)
        #expect(sampling == [.progress(JobProgress(node: "3", nodeType: "KSampler", value: 4, max: 20, nodesDone: 1, nodesTotal: 3))])
        h.send(.execution(promptID: "p1", .executed(node: "3")), at: 0.21)
        // A tick sends what is left.
        #expect(h.send(.tick, at: 0.25) == [.progress(JobProgress(node: "3", nodeType: "KSampler", value: 4, max: 20, nodesDone: 2, nodesTotal: 3))])
    }

    @Test func otherPromptsEventsAreIgnored() {
        var h = H.submitted()
        #expect(h.send(.execution(promptID: "theirs", .started)) == [])
        #expect(h.send(.execution(promptID: nil, .other)) == [])
        #expect(h.comfy.state == .submitted)
    }

    @Test func successCollectsTheOutputsOnceHistoryHasThem() {
        var h = H.submitted()
        h.send(.execution(promptID: "p1", .started))
        // execution_success comes just before the history is written: nothing yet.
        #expect(h.send(.execution(promptID: "p1", .succeeded)) == [.askHistory])
        #expect(h.lifecycle.job?.phase == .finishing)
        h.comfy.history = .succeeded
        #expect(h.send(.tick, at: 0.25) == [.askHistory, .collectOutputs, H.record(.succeeded, result: #"{"outputs":[]}"#), .release])
        #expect(h.ended == .succeeded && h.lifecycle.job == nil)
    }

    @Test func outputsThatCouldNotBeFetchedAreTriedAgainOnTheNextTick() {
        var h = H.submitted()
        h.comfy.history = .succeeded
        h.comfy.outputs = .outputsFailed(reason: "ComfyUI is not reachable", retryable: true)
        h.send(.execution(promptID: "p1", .succeeded))
        #expect(h.lifecycle.job?.phase == .finishing && h.ended == nil)
        h.comfy.outputs = .outputsSaved(result: #"{"outputs":[]}"#)
        h.send(.tick, at: 0.25)
        #expect(h.ended == .succeeded)
    }

    @Test func outputsThatCannotBeSavedFailTheJob() {
        var h = H.submitted()
        h.comfy.history = .succeeded
        h.comfy.outputs = .outputsFailed(reason: "disk full", retryable: false)
        h.send(.execution(promptID: "p1", .succeeded))
        #expect(h.ended == .failed && h.lastError == "the job ran but its outputs could not be saved: disk full")
    }

    @Test func anExecutionErrorFailsTheJobInComfyUIsWords() {
        var h = H.submitted()
        h.send(.execution(promptID: "p1", .failed(message: "node 3 (KSampler) failed: IndexError: index 3 is out of bounds")))
        #expect(h.ended == .failed && h.lastError == "ComfyUI failed: node 3 (KSampler) failed: IndexError: index 3 is out of bounds")
        // An error alone does not mark it running: only messages sent while it executes do.
        #expect(h.log.contains(H.record(.running)) == false)
    }

    /// The card running out of memory is not final the first time: the job goes back in line
    /// (the runner charges it more); the second time, or from /history, the same rule.
    @Test func runningOutOfMemoryRetriesOnceThenFails() {
        let oom = "node 3 (KSampler) failed: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB."
        var h = H.submitted()
        #expect(h.send(.execution(promptID: "p1", .failed(message: oom))) == [.retryForMemory(message: oom)])
        #expect(h.lifecycle.job == nil && h.ended == nil)

        var again = H(settings: .init())
        again.send(.connected)
        again.send(.queueReported(remaining: 0))
        var ticket = H.ticket()
        ticket.memoryRetries = 1
        again.send(.admitted(ticket))
        again.send(.execution(promptID: "p1", .failed(message: oom)))
        #expect(again.ended == .failed && again.lastError?.contains("ran out of memory again") == true)

        // Found in /history after /ws missed it: the same.
        var missed = H.submitted()
        missed.comfy.history = .failed(message: oom)
        missed.send(.disconnected)
        #expect(missed.send(.tick, at: 1).contains(.retryForMemory(message: oom)))
    }

    @Test func anInterruptNobodyHereAskedForFailsTheJob() {
        var h = H.submitted()
        h.send(.execution(promptID: "p1", .interrupted))
        #expect(h.lastError == "the job was interrupted in ComfyUI (not by gpuctl)")
    }

    @Test func aLostSocketIsReconciledWhenItComesBackAndEveryTickMeanwhile() {
        var h = H.submitted()
        h.comfy.queue = .init(running: [.init(promptID: "p1", clientID: "gpuctld-x")], pending: [])
        h.send(.disconnected)
        #expect(h.lifecycle.job?.needsReconcile == true)
        // Unreachable meanwhile: nothing is decided, it is asked again.
        h.comfy.reachable = false
        #expect(h.send(.tick, at: 0.25) == [.askHistory])
        h.comfy.reachable = true
        // Found running in /queue: it ran while /ws was not heard.
        #expect(h.send(.connected, at: 0.3) == [.askHistory, .askQueue, H.record(.running)])
        #expect(h.lifecycle.job?.needsReconcile == false)
    }

    @Test func aJobThatFinishedWhileUnheardIsFinalizedFromHistory() {
        var h = H.submitted()
        h.send(.disconnected)
        h.comfy.history = .failed(message: "node 9 (SaveImage) failed: disk full")
        #expect(h.send(.connected) == [.askHistory, H.record(.running), H.record(.failed, error: "ComfyUI failed: node 9 (SaveImage) failed: disk full"), .release])
    }

    @Test func aQuietConnectedJobIsReconciledAfterTheQuietSpell() {
        var h = H.submitted()
        h.comfy.queue = .init(running: [], pending: [.init(promptID: "p1", clientID: "gpuctld-x")])
        #expect(h.send(.tick, at: 1.9) == [])
        #expect(h.send(.tick, at: 2.0) == [.askHistory, .askQueue])
        #expect(h.comfy.state == .submitted)
    }

    @Test func aPromptComfyUIForgotIsSubmittedAgainUpToTheLimit() {
        var h = H.submitted()
        // ComfyUI restarted: neither history nor queue knows p1.
        h.send(.disconnected)
        let again = h.send(.connected)
        #expect(again.contains(.submit) && h.comfy.attempts == 2)
        h.send(.disconnected)
        h.send(.connected)
        #expect(h.comfy.attempts == 3 && h.ended == nil)
        h.send(.disconnected)
        h.send(.connected)
        #expect(h.ended == .failed)
        #expect(h.lastError == "ComfyUI lost job j1 3 times (did it restart while the job ran?); submit it again with gpuctl run")
    }

    @Test func aJobResumedAfterARestartIsReconciledBeforeAnythingElse() {
        var h = H()
        h.comfy.state = .running
        h.comfy.attempts = 1
        h.comfy.history = .succeeded
        #expect(h.send(.admitted(H.ticket(.running, attempts: 1))) == [.askHistory, .collectOutputs,
                                                                      H.record(.succeeded, result: #"{"outputs":[]}"#), .release])
    }

    @Test func aResumedJobComfyUINeverSawIsSubmittedAgain() {
        var h = H()
        h.comfy.state = .submitted
        h.comfy.attempts = 1
        #expect(h.send(.admitted(H.ticket(.submitted, attempts: 1))) == [.askHistory, .askQueue, .askHistory,
            .log(.warning, "ComfyUI does not know job j1 (prompt p1); submitting it again"),
            H.record(.submitted, attempt: true), .submit])
    }
}
