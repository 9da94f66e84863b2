import GPUCtlCore
import GPUCtlModels
import Testing

/// Fallbacks, explicit unloads, the swap-rate limit and grouping.
@Suite struct SchedulerPolicyTests {
    static let gib: UInt64 = 1 << 30
    let start = ContinuousClock.now
    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    func scheduler(budget: UInt64 = 12 << 30) -> Scheduler {
        Scheduler(budget: budget, policies: [
            "big": .init(footprint: 10 * Self.gib, fallback: "small"),
            "small": .init(footprint: 3 * Self.gib),
            "a": .init(footprint: 6 * Self.gib),
            "b": .init(footprint: 8 * Self.gib),
            "huge": .init(footprint: 40 * Self.gib, fallback: "small"),
        ])
    }

    @Test func aModelThatCanNeverFitRunsOnItsFallback() {
        var s = scheduler()
        #expect(s.handle(.requested(1, model: "huge", requestClass: .interactive), now: at(0)) == [.load(model: "small")])
        #expect(s.handle(.loaded(model: "small", bytes: 3 * Self.gib), now: at(1)) == [.run(1, model: "small")])
    }

    @Test func aFailedLoadMovesItsRequestsToTheFallback() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "big", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(2, model: "big", requestClass: .interactive), now: at(0))
        #expect(s.handle(.loadFailed(model: "big", reason: "incompatible"), now: at(1)) == [.load(model: "small")])
        #expect(s.handle(.loaded(model: "small", bytes: 3 * Self.gib), now: at(2)) == [.run(1, model: "small"), .run(2, model: "small")])
    }

    @Test func aBusyCardSendsTheRequestToALoadedFallback() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "small", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "small", bytes: 3 * Self.gib), now: at(1))
        _ = s.handle(.finished(1), now: at(2))
        _ = s.handle(.requested(2, model: "a", requestClass: .interactive), now: at(3))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(4))
        // "a" is busy, so "big" cannot get its 10 GiB now; "small" is loaded and serves at once.
        #expect(s.handle(.requested(3, model: "big", requestClass: .interactive), now: at(5)) == [.run(3, model: "small")])
    }

    @Test func anExactRequestNeverMovesToTheFallback() {
        var s = scheduler()
        #expect(s.handle(.requested(1, model: "huge", requestClass: .interactive, exact: true), now: at(0))
            == [.fail(1, .doesNotFit(model: "huge", needed: 40 * Self.gib, budget: 12 * Self.gib, pinned: 0))])
        _ = s.handle(.requested(2, model: "big", requestClass: .interactive, exact: true), now: at(1))
        _ = s.handle(.requested(3, model: "big", requestClass: .interactive), now: at(1))
        // The exact one fails with the load; the other moves to "small".
        #expect(s.handle(.loadFailed(model: "big", reason: "incompatible"), now: at(2))
            == [.fail(2, .loadFailed(model: "big", reason: "incompatible")), .load(model: "small")])
    }

    @Test func anExplicitUnloadWaitsForTheLastRequest() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        #expect(s.handle(.unloadRequested(model: "a"), now: at(2)) == [])
        // A new request for it waits: the model is on its way out.
        #expect(s.handle(.requested(2, model: "a", requestClass: .interactive), now: at(2)) == [])
        #expect(s.handle(.finished(1), now: at(3)) == [.unload(model: "a")])
        #expect(s.handle(.unloaded(model: "a"), now: at(4)) == [.load(model: "a")])
    }

    @Test func theSwapRateLimitHoldsAYoungModelAndWakesLater() {
        var s = scheduler()
        s.minimumResidency = .seconds(10)
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        _ = s.handle(.finished(1), now: at(2))
        #expect(s.handle(.requested(2, model: "b", requestClass: .interactive), now: at(3)) == [.wake(at: at(11))])
        #expect(s.handle(.tick, now: at(11)) == [.unload(model: "a")])
    }

    @Test func waitingRequestsForOneModelAreServedTogether() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(2, model: "b", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(3, model: "a", requestClass: .interactive), now: at(0))
        // A B A: both "a" requests run on the one load, before "b" is considered.
        #expect(s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1)) == [.run(1, model: "a"), .run(3, model: "a")])
        #expect(s.waitingByModel == ["b": 1])
    }

    @Test func aLoadingModelKeepsItsEstimateUntilMeasured() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.observed(["a": 1 * Self.gib]), now: at(1))
        #expect(s.residentBytes == ["a": 6 * Self.gib])
    }
}
