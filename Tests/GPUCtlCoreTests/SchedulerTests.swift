import GPUCtlCore
import GPUCtlModels
import Testing

@Suite struct SchedulerTests {
    static let gib: UInt64 = 1 << 30
    let start = ContinuousClock.now

    func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    func scheduler(budget: UInt64 = 12 << 30, _ policies: [String: Scheduler.ModelPolicy]? = nil) -> Scheduler {
        Scheduler(budget: budget, policies: policies ?? [
            "a": .init(footprint: 6 * Self.gib, priority: 50),
            "b": .init(footprint: 8 * Self.gib, priority: 50),
            "c": .init(footprint: 4 * Self.gib, priority: 10),
            "e": .init(footprint: 1 * Self.gib, priority: 90, pinned: true),
            "huge": .init(footprint: 40 * Self.gib),
        ])
    }

    @Test func aModelThatFitsIsLoadedThenItsRequestRuns() {
        var s = scheduler()
        #expect(s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0)) == [.load(model: "a")])
        #expect(s.handle(.loaded(model: "a", bytes: 5 * Self.gib), now: at(1)) == [.run(1, model: "a")])
        // The measured size replaces the estimate.
        #expect(s.residentBytes == ["a": 5 * Self.gib])
        #expect(s.handle(.requested(2, model: "a", requestClass: .batch), now: at(2)) == [.run(2, model: "a")])
    }

    @Test func concurrentRequestsForOneModelLoadItOnce() {
        var s = scheduler()
        #expect(s.handle(.requested(1, model: "b", requestClass: .interactive), now: at(0)) == [.load(model: "b")])
        #expect(s.handle(.requested(2, model: "b", requestClass: .interactive), now: at(0)) == [])
        #expect(s.handle(.requested(3, model: "b", requestClass: .batch), now: at(0)) == [])
        #expect(s.handle(.loaded(model: "b", bytes: 8 * Self.gib), now: at(1))
            == [.run(1, model: "b"), .run(2, model: "b"), .run(3, model: "b")])
    }

    @Test func aSwapUnloadsTheIdleModelFirst() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        _ = s.handle(.finished(1), now: at(2))
        #expect(s.handle(.requested(2, model: "b", requestClass: .interactive), now: at(3)) == [.unload(model: "a")])
        // Nothing loads while the eviction is under way.
        #expect(s.handle(.requested(3, model: "c", requestClass: .interactive), now: at(3)) == [])
        #expect(s.handle(.unloaded(model: "a"), now: at(4)) == [.load(model: "b")])
        #expect(s.handle(.loaded(model: "b", bytes: 8 * Self.gib), now: at(5)) == [.run(2, model: "b"), .load(model: "c")])
    }

    @Test func aModelWithARequestInFlightIsNeverEvicted() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        #expect(s.handle(.requested(2, model: "b", requestClass: .interactive), now: at(2)) == [])
        #expect(s.handle(.finished(1), now: at(3)) == [.unload(model: "a")])
    }

    @Test func victimsAreLowestPriorityThenLeastRecentlyUsed() {
        var s = scheduler(budget: 11 << 30)
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        _ = s.handle(.requested(2, model: "c", requestClass: .interactive), now: at(2))
        _ = s.handle(.loaded(model: "c", bytes: 4 * Self.gib), now: at(3))
        _ = s.handle(.finished(2), now: at(4))
        _ = s.handle(.finished(1), now: at(5))
        // 1 GiB free; "e" needs 1 GiB and fits without eviction.
        #expect(s.handle(.requested(3, model: "e", requestClass: .interactive), now: at(6)) == [.load(model: "e")])
        #expect(s.handle(.loaded(model: "e", bytes: 1 * Self.gib), now: at(7)) == [.run(3, model: "e")])
        _ = s.handle(.finished(3), now: at(8))
        // "b" needs 8 GiB of 11 with 11 used: "c" (priority 10) goes first, then "a"; pinned "e" stays.
        #expect(s.handle(.requested(4, model: "b", requestClass: .interactive), now: at(9))
            == [.unload(model: "c"), .unload(model: "a")])
    }

    @Test func whatCanNeverFitFailsAtOnceWithTheNumbers() {
        var s = scheduler()
        #expect(s.handle(.requested(1, model: "huge", requestClass: .interactive), now: at(0))
            == [.fail(1, .doesNotFit(model: "huge", needed: 40 * Self.gib, budget: 12 * Self.gib, pinned: 0))])
        #expect(s.handle(.requested(2, model: "nope", requestClass: .interactive), now: at(0)) == [.fail(2, .unknownModel("nope"))])
        // With 5 GiB pinned, the 7 GiB left can never hold "b" (8 GiB).
        _ = s.handle(.requested(3, model: "e", requestClass: .interactive), now: at(1))
        _ = s.handle(.loaded(model: "e", bytes: 5 * Self.gib), now: at(2))
        #expect(s.handle(.requested(4, model: "b", requestClass: .interactive), now: at(3))
            == [.fail(4, .doesNotFit(model: "b", needed: 8 * Self.gib, budget: 12 * Self.gib, pinned: 5 * Self.gib))])
    }

    @Test func aFailedLoadFailsItsWaitingRequests() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(2, model: "a", requestClass: .batch), now: at(0))
        #expect(s.handle(.loadFailed(model: "a", reason: "out of memory"), now: at(1))
            == [.fail(1, .loadFailed(model: "a", reason: "out of memory")), .fail(2, .loadFailed(model: "a", reason: "out of memory"))])
        #expect(s.residentBytes.isEmpty)
    }

    @Test func modelsLoadedBehindOurBackAreCounted() {
        var s = scheduler()
        _ = s.handle(.observed(["b": 8 * Self.gib]), now: at(0))
        #expect(s.usedBytes == 8 * Self.gib)
        // "a" does not fit beside it: the stranger is evicted like any idle model.
        #expect(s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(1)) == [.unload(model: "b")])
        _ = s.handle(.observed([:]), now: at(2))
        #expect(s.residentBytes == ["a": 6 * Self.gib])
    }

    @Test func interactiveGoesFirstAndBatchAges() {
        var s = scheduler()
        _ = s.handle(.requested(1, model: "c", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(2, model: "a", requestClass: .batch), now: at(1))
        _ = s.handle(.requested(3, model: "b", requestClass: .interactive), now: at(2))
        // "c" loads first; then "b" (interactive) before the older batch "a".
        #expect(s.handle(.loaded(model: "c", bytes: 4 * Self.gib), now: at(3)) == [.run(1, model: "c"), .load(model: "b")])
        var aged = scheduler()
        _ = aged.handle(.requested(1, model: "c", requestClass: .interactive), now: at(0))
        _ = aged.handle(.requested(2, model: "a", requestClass: .batch), now: at(1))
        _ = aged.handle(.requested(3, model: "b", requestClass: .interactive), now: at(40))
        #expect(aged.handle(.loaded(model: "c", bytes: 4 * Self.gib), now: at(41)) == [.run(1, model: "c"), .load(model: "a")])
    }

    /// A seeded random workload against a simulated Ollama: the budget is never exceeded, every
    /// request ends, and nothing is evicted while it serves a request.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func randomWorkloadsKeepTheInvariant(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var s = scheduler()
        var pending: [Scheduler.Event] = []
        var served = 0, failed = 0
        let models = ["a", "b", "c", "e"]
        var nextID: UInt64 = 1
        var clock = 0
        func apply(_ event: Scheduler.Event) {
            clock += 1
            for action in s.handle(event, now: at(clock)) {
                #expect(s.usedBytes <= s.budget, "seed \(seed): \(s.residentBytes) over \(s.budget)")
                switch action {
                case .load(let model): pending.append(.loaded(model: model, bytes: [6, 8, 4, 1][models.firstIndex(of: model)!] * Self.gib))
                case .unload(let model): pending.append(.unloaded(model: model))
                case .run(let id, _): pending.append(.finished(id)); served += 1
                case .fail: failed += 1
                case .wake: pending.append(.tick)
                // No jobs in this trace: the job lane never acts.
                case .free, .runJob: Issue.record("seed \(seed): \(action) without a job")
                }
            }
        }
        for _ in 0..<300 {
            if rng.next() % 3 == 0 || pending.isEmpty {
                let model = models[Int(rng.next() % UInt64(models.count))]
                apply(.requested(nextID, model: model, requestClass: rng.next() % 2 == 0 ? .interactive : .batch))
                nextID += 1
            } else {
                apply(pending.remove(at: Int(rng.next() % UInt64(pending.count))))
            }
        }
        while !pending.isEmpty { apply(pending.removeFirst()) }
        #expect(served + failed == Int(nextID - 1))
        #expect(s.waitingCount == 0)
    }

    /// Kept as requests come and go (read models and metrics never walk the queue).
    @Test func waitingCountsPerClassFollowArrivalsRunsAndCancels() {
        var s = scheduler(budget: 8 << 30, ["a": .init(footprint: 6 * Self.gib), "b": .init(footprint: 6 * Self.gib)])
        _ = s.handle(.requested(1, model: "a", requestClass: .interactive), now: at(0))
        _ = s.handle(.requested(2, model: "b", requestClass: .batch), now: at(0))
        _ = s.handle(.requested(3, model: "b", requestClass: .interactive), now: at(0))
        // 1 loads "a" and is no longer counted once it runs; "b" waits.
        #expect(s.waitingByClass == [.interactive: 2, .batch: 1])
        _ = s.handle(.loaded(model: "a", bytes: 6 * Self.gib), now: at(1))
        #expect(s.waitingByClass == [.interactive: 1, .batch: 1])
        _ = s.handle(.cancelled(2), now: at(2))
        #expect(s.waitingByClass == [.interactive: 1])
        _ = s.handle(.cancelled(3), now: at(2))
        #expect(s.waitingByClass == [:])
    }
}

/// A tiny deterministic generator, so a failing seed can be replayed.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
