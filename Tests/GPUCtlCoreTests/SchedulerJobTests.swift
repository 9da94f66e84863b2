import GPUCtlCore
import GPUCtlModels
import Testing

/// The ComfyUI lane: one job at a time, VRAM made free by unloading idle models, ComfyUI's cache
/// freed for a model that needs the room, interactive before batch.
@Suite struct SchedulerJobTests {
    static let gib: UInt64 = 1 << 30
    let start = ContinuousClock.now
    let comfy = Holder.backend(.comfyui)

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    func scheduler(budget: UInt64 = 12 << 30) -> Scheduler {
        var s = Scheduler(budget: budget, policies: [
            "a": .init(footprint: 6 * Self.gib, priority: 50),
            "b": .init(footprint: 8 * Self.gib, priority: 50),
            "low": .init(footprint: 2 * Self.gib, priority: 10),
        ])
        _ = s.handle(.backendAvailable(.comfyui, true), now: at(0))
        return s
    }

    @Test func aJobThatFitsRunsAtOnceAndOnlyOneRunsAtATime() {
        var s = scheduler()
        #expect(s.handle(.jobRequested(1, bytes: 4 * Self.gib, requestClass: .interactive), now: at(0)) == [.runJob(1, on: .comfyui)])
        #expect(s.handle(.jobRequested(2, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0)) == [])
        #expect(s.waitingJobs == 1)
        // The first job's memory stays as ComfyUI's cache; the next job reuses it.
        #expect(s.handle(.finished(1), now: at(1)) == [.runJob(2, on: .comfyui)])
        #expect(s.heldBytes == [comfy: 4 * Self.gib])
    }

    @Test func idleModelsAreUnloadedForAJobAndBusyOnesFinishFirst() {
        var s = scheduler()
        _ = s.handle(.requested(10, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        // "a" is busy: the job waits rather than taking memory from a running request.
        #expect(s.handle(.jobRequested(1, bytes: 8 * Self.gib, requestClass: .interactive), now: at(2)) == [])
        #expect(s.handle(.finished(10), now: at(3)) == [.unload(model: "a")])
        #expect(s.handle(.unloaded(model: "a"), now: at(4)) == [.runJob(1, on: .comfyui)])
    }

    @Test func comfyUIsCacheIsFreedForAModelOnlyWhenIdle() {
        var s = scheduler()
        _ = s.handle(.jobRequested(1, bytes: 8 * Self.gib, requestClass: .interactive), now: at(0))
        #expect(s.handle(.requested(10, model: "a", requestClass: .interactive), now: at(1)) == [])
        #expect(s.handle(.finished(1), now: at(2)) == [.free(.comfyui)])
        #expect(s.jobBackendBusy)
        #expect(s.handle(.freed(.comfyui), now: at(3)) == [.load(model: "a")])
    }

    @Test func aFreeThatFreedNothingIsNotHandedOverAndIsAskedAgainAfterTheRetryDelay() {
        var s = scheduler()
        s.freeRetryDelay = .seconds(5)
        _ = s.handle(.jobRequested(1, bytes: 8 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(10, model: "a", requestClass: .interactive), now: at(1))
        #expect(s.handle(.finished(1), now: at(2)) == [.free(.comfyui)])
        // ComfyUI still holds 7 GiB: "a" does not load, and no free is asked again at once.
        #expect(s.handle(.freeFailed(.comfyui, stillHeld: 7 * Self.gib), now: at(3)) == [.wake(at: at(8))])
        #expect(s.heldBytes == [comfy: 7 * Self.gib] && !s.jobBackendBusy)
        #expect(s.handle(.tick, now: at(5)) == [.wake(at: at(8))])
        #expect(s.handle(.tick, now: at(8)) == [.free(.comfyui)])
        #expect(s.handle(.freed(.comfyui), now: at(9)) == [.load(model: "a")])
    }

    @Test func ollamaObservationsLeaveComfyUIAlone() {
        var s = scheduler()
        _ = s.handle(.jobRequested(1, bytes: 3 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.observed([:]), now: at(1))
        #expect(s.heldBytes == [comfy: 3 * Self.gib])
        // While the job runs the larger of estimate and measure counts; after, the measure.
        _ = s.handle(.backendObserved(.comfyui, bytes: 5 * Self.gib), now: at(1))
        #expect(s.heldBytes == [comfy: 5 * Self.gib])
        _ = s.handle(.finished(1), now: at(2))
        _ = s.handle(.backendObserved(.comfyui, bytes: 1 * Self.gib), now: at(3))
        #expect(s.heldBytes == [comfy: 1 * Self.gib])
        _ = s.handle(.backendObserved(.comfyui, bytes: 0), now: at(4))
        #expect(s.heldBytes == [:])
        // Someone using ComfyUI's own UI: counted.
        _ = s.handle(.backendObserved(.comfyui, bytes: 2 * Self.gib), now: at(5))
        #expect(s.heldBytes == [comfy: 2 * Self.gib])
    }

    @Test func noJobGoesWhileComfyUIIsUnavailable() {
        var s = scheduler()
        _ = s.handle(.backendAvailable(.comfyui, false), now: at(0))
        #expect(s.handle(.jobRequested(1, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0)) == [])
        #expect(s.handle(.backendAvailable(.comfyui, true), now: at(1)) == [.runJob(1, on: .comfyui)])
    }

    @Test func interactiveBeforeBatchAndBatchAges() {
        var s = scheduler()
        _ = s.handle(.jobRequested(1, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.jobRequested(2, bytes: 1 * Self.gib, requestClass: .batch), now: at(0))
        _ = s.handle(.jobRequested(3, bytes: 1 * Self.gib, requestClass: .interactive), now: at(1))
        #expect(s.handle(.finished(1), now: at(2)) == [.runJob(3, on: .comfyui)])
        _ = s.handle(.jobRequested(4, bytes: 1 * Self.gib, requestClass: .interactive), now: at(40))
        // Job 2 has waited past the aging limit and is older than 4.
        #expect(s.handle(.finished(3), now: at(41)) == [.runJob(2, on: .comfyui)])
        #expect(s.handle(.finished(2), now: at(42)) == [.runJob(4, on: .comfyui)])
    }

    @Test func aResumedJobGoesFirstAndAModelRequestOutranksAnOlderBatchJob() {
        var s = scheduler()
        _ = s.handle(.backendAvailable(.comfyui, false), now: at(0))
        _ = s.handle(.jobRequested(1, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.jobRequested(2, bytes: 1 * Self.gib, requestClass: .batch, resumed: true), now: at(1))
        #expect(s.handle(.backendAvailable(.comfyui, true), now: at(2)) == [.runJob(2, on: .comfyui)])
        var t = scheduler()
        _ = t.handle(.jobRequested(1, bytes: 11 * Self.gib, requestClass: .interactive), now: at(0))
        _ = t.handle(.jobRequested(2, bytes: 11 * Self.gib, requestClass: .batch), now: at(0))
        _ = t.handle(.requested(10, model: "low", requestClass: .interactive), now: at(1))
        // The interactive request is ranked before the batch job and makes ComfyUI free its cache.
        #expect(t.handle(.finished(1), now: at(2)) == [.free(.comfyui)])
    }

    @Test func aJobLargerThanTheCardFailsWithTheNumbers() {
        var s = scheduler()
        #expect(s.handle(.jobRequested(1, bytes: 20 * Self.gib, requestClass: .interactive), now: at(0))
            == [.fail(1, .doesNotFit(model: "comfyui", needed: 20 * Self.gib, budget: 12 * Self.gib, pinned: 0))])
        #expect(s.handle(.jobRequested(2, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0)) == [.runJob(2, on: .comfyui)])
    }

    @Test func aCancelledWaitingJobIsForgotten() {
        var s = scheduler()
        _ = s.handle(.jobRequested(1, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.jobRequested(2, bytes: 1 * Self.gib, requestClass: .interactive), now: at(0))
        _ = s.handle(.cancelled(2), now: at(1))
        #expect(s.handle(.finished(1), now: at(2)) == [])
        #expect(s.waitingJobs == 0)
    }
}
