import GPUCtlCore
import GPUCtlModels
import Testing

/// Timeouts and cancels, in each phase of a job.
@Suite struct JobLifecycleEndTests {
    typealias H = LifecycleHarness

    @Test func aJobPastItsTimeoutIsStoppedAndFailsWhenComfyUIConfirms() {
        var settings = JobLifecycle.Settings()
        settings.quietReconcile = .seconds(100)
        var h = H.submitted(settings: settings)
        h.comfy.queue = .init(running: [.init(promptID: "p1", clientID: "gpuctld-x")], pending: [])
        h.send(.execution(promptID: "p1", .started))
        #expect(h.send(.tick, at: 59) == [])
        #expect(h.send(.tick, at: 60) == [.log(.warning, "job j1 passed its timeout of 60 s: interrupting it"), .stop, .askHistory, .askQueue])
        h.send(.execution(promptID: "p1", .interrupted), at: 60.5)
        #expect(h.ended == .failed)
        #expect(h.lastError == "job j1 ran longer than its timeout of 60 s and was interrupted; raise it with --timeout")
    }

    @Test func aTimeoutComfyUINeverConfirmsFailsAfterTheGrace() {
        var settings = JobLifecycle.Settings()
        settings.quietReconcile = .seconds(1000)
        var h = H.submitted(settings: settings)
        h.comfy.queue = .init(running: [.init(promptID: "p1", clientID: "gpuctld-x")], pending: [])
        h.send(.tick, at: 60)
        #expect(h.ended == nil)
        h.send(.tick, at: 89.9)
        #expect(h.ended == nil)
        h.send(.tick, at: 90)
        #expect(h.ended == .failed && h.lastError?.contains("ran longer than its timeout") == true)
    }

    @Test func aTimedOutPromptThatVanishedFailsAsTimedOutNotAsLost() {
        var h = H.submitted()
        h.send(.tick, at: 60)
        // Deleted from the queue before it ran: neither history nor queue lists it.
        #expect(h.ended == .failed && h.lastError?.contains("ran longer than its timeout") == true)
        #expect(h.comfy.attempts == 1)
    }

    @Test func aCancelBeforeSubmittingEndsItAtOnce() {
        var h = H()
        h.comfy.queue = .init(running: [.init(promptID: "theirs", clientID: nil)], pending: [])
        h.send(.admitted(H.ticket()))
        #expect(h.send(.cancel(jobID: "j1")) == [H.record(.cancelled, error: "cancelled before it ran"), .release])
    }

    @Test func aCancelOfAnotherJobIsIgnored() {
        var h = H.submitted()
        #expect(h.send(.cancel(jobID: "j2")) == [])
    }

    @Test func aCancelOfAQueuedPromptDeletesItAndEndsWhenItIsGone() {
        var h = H.submitted()
        #expect(h.send(.cancel(jobID: "j1")) == [.stop, .askHistory, .askQueue, .askHistory,
                                                 H.record(.cancelled, error: "cancelled"), .release])
    }

    @Test func aCancelOfARunningPromptEndsWhenComfyUIReportsTheInterrupt() {
        var h = H.submitted()
        h.comfy.queue = .init(running: [.init(promptID: "p1", clientID: "gpuctld-x")], pending: [])
        h.send(.execution(promptID: "p1", .started))
        #expect(h.send(.cancel(jobID: "j1")) == [.stop, .askHistory, .askQueue])
        #expect(h.ended == nil)
        // No timeout while a cancel is under way.
        #expect(h.send(.execution(promptID: "p1", .interrupted), at: 61) == [H.record(.cancelled, error: "cancelled while it ran"), .release])
    }

    @Test func aCancelOfAFinishedPromptKeepsWhatComfyUISays() {
        var h = H.submitted()
        h.comfy.history = .interrupted
        #expect(h.send(.cancel(jobID: "j1")) == [.stop, .askHistory, H.record(.running), H.record(.cancelled, error: "cancelled while it ran"), .release])
    }

    @Test func lateAnswersAndEventsAfterTheEndChangeNothing() {
        var h = H.submitted()
        h.send(.execution(promptID: "p1", .failed(message: "boom")))
        #expect(h.lifecycle.job == nil)
        #expect(h.send(.execution(promptID: "p1", .succeeded)) == [])
        #expect(h.send(.historyAnswered(.succeeded)) == [])
        #expect(h.send(.tick, at: 100) == [])
    }
}
