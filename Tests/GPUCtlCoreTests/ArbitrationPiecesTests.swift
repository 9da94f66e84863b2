import GPUCtlCore
import GPUCtlModels
import Testing

/// The pieces issue 14 added around the Scheduler: next-use evictions, the peak meter, the
/// job charge and the reading of out-of-memory errors.
@Suite struct ArbitrationPiecesTests {
    static let gib: UInt64 = 1 << 30
    let start = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .seconds(seconds) }

    /// A every 10 s, B once long ago: A is expected again, B not at all.
    @Test func theForecastExpectsWhatCameRegularly() {
        var forecast = NextUseForecast()
        for second in stride(from: 0.0, through: 40, by: 10) { forecast.arrived(.model("a"), at: at(second)) }
        forecast.arrived(.model("b"), at: at(5))
        #expect(forecast.nextUse(of: .model("a"), now: at(42)) == at(50))
        #expect(forecast.nextUse(of: .model("b"), now: at(42)) == nil)
        // Long overdue: it fades.
        #expect(forecast.nextUse(of: .model("a"), now: at(200)) == nil)
        forecast.given = [.model("b"): at(60)]
        #expect(forecast.nextUse(of: .model("b"), now: at(42)) == at(60))
        #expect(forecast.nextUse(of: .model("a"), now: at(42)) == nil)
    }

    /// Room for two 7 GiB models; A and B loaded, A used last, then C: least recently used
    /// evicts B; next-use evicts B too when A comes every few seconds, but when B is the one
    /// that comes back (told by the forecast) it evicts A.
    @Test func evictionsSpareWhatIsNeededNext() {
        for (order, given, victim) in [(Scheduler.EvictionOrder.leastRecentlyUsed, nil, "b"),
                                       (.furthestNextUse, [Holder.model("b"): at(30), .model("a"): at(90)], "a")] {
            var scheduler = Scheduler(budget: 16 * Self.gib, policies: ["a": .init(footprint: 7 * Self.gib),
                                                                        "b": .init(footprint: 7 * Self.gib),
                                                                        "c": .init(footprint: 7 * Self.gib)])
            scheduler.evictionOrder = order
            _ = scheduler.handle(.observed(["a": 7 * Self.gib, "b": 7 * Self.gib]), now: at(0))
            _ = scheduler.handle(.requested(1, model: "b", requestClass: .interactive), now: at(1))
            _ = scheduler.handle(.finished(1), now: at(2))
            _ = scheduler.handle(.requested(2, model: "a", requestClass: .interactive), now: at(3))
            _ = scheduler.handle(.finished(2), now: at(4))
            scheduler.forecast.given = given
            let actions = scheduler.handle(.requested(3, model: "c", requestClass: .interactive), now: at(5))
            #expect(actions == [.unload(model: victim)], "\(order): \(actions)")
        }
    }

    /// The keep_alive bridges the longest pause of the last two hours, not the average gap of a
    /// burst: a model used in bursts every 20 minutes is kept 30; never less than Ollama's 5
    /// minutes, never more than an hour.
    @Test func theKeepAliveBridgesThePausesBetweenBursts() {
        var forecast = NextUseForecast()
        var time = 0.0
        for _ in 0..<3 {
            for _ in 0..<10 {
                forecast.arrived(.model("m"), at: at(time))
                time += 2
            }
            time += 1_200
        }
        forecast.arrived(.model("m"), at: at(time))
        #expect(forecast.averageGap(of: .model("m"))! < .seconds(600))
        #expect(forecast.longestRecentGap(of: .model("m")) == .seconds(1_202))
        #expect(KeepAlivePlan.duration(longestRecentGap: forecast.longestRecentGap(of: .model("m"))) == .seconds(1_803))
        #expect(KeepAlivePlan.duration(longestRecentGap: .seconds(10)) == .seconds(300))
        #expect(KeepAlivePlan.duration(longestRecentGap: .seconds(5_000)) == .seconds(3_600))
        #expect(KeepAlivePlan.duration(longestRecentGap: nil) == nil)
        // Three hours later the long pauses have left the window.
        for step in 1...10 { forecast.arrived(.model("m"), at: at(time + 10_800 + Double(step) * 5)) }
        #expect(forecast.longestRecentGap(of: .model("m")) == .seconds(10_805))
        forecast.arrived(.model("m"), at: at(time + 10_800 + 7_300))
        #expect(forecast.longestRecentGap(of: .model("m"))! < .seconds(10_000))
    }

    /// Another workflow's cache is not this job's; this workflow's own cache is.
    @Test func thePeakMeterCountsOwnCacheButNotAnothers() {
        var meter = JobPeakMeter()
        meter.started(workflow: "sd15")
        meter.observed(6 * Self.gib)
        #expect(meter.ended()! == ("sd15", 6 * Self.gib))
        meter.observed(4 * Self.gib)
        // The same workflow again, its checkpoint cached: the whole peak is its need.
        meter.started(workflow: "sd15")
        meter.observed(6 * Self.gib)
        #expect(meter.ended()! == ("sd15", 6 * Self.gib))
        // Another workflow on top of sd15's cache: only what it grew.
        meter.observed(4 * Self.gib)
        meter.started(workflow: "upscale")
        meter.observed(5 * Self.gib)
        #expect(meter.ended()! == ("upscale", 1 * Self.gib))
        // After a free nothing is cached: a raw graph learns nothing.
        meter.freed()
        meter.started(workflow: nil)
        meter.observed(3 * Self.gib)
        #expect(meter.ended() == nil)
    }

    /// The card's reading (NVML per process) wins over the allocator's when it saw the job.
    @Test func thePeakMeterPrefersTheCardsReading() {
        var meter = JobPeakMeter()
        meter.observed(1 * Self.gib, source: .card)
        meter.started(workflow: "sdxl")
        meter.observed(7 * Self.gib, source: .allocator)
        meter.observed(10 * Self.gib, source: .card)
        #expect(meter.ended()! == ("sdxl", 9 * Self.gib))
        // A job the card was not sampled during is learned from the allocator.
        meter.observed(2 * Self.gib, source: .allocator)
        meter.started(workflow: "upscale")
        meter.observed(4 * Self.gib, source: .allocator)
        #expect(meter.ended()! == ("upscale", 2 * Self.gib))
    }

    @Test func aJobIsChargedRoomForSamplingUntilItsPeakIsKnown() {
        #expect(JobCharge.bytes(estimate: 4 * Self.gib, learned: nil) == 6 * Self.gib)
        #expect(JobCharge.bytes(estimate: 4 * Self.gib, learned: 0, headroom: Self.gib) == 5 * Self.gib)
        #expect(JobCharge.bytes(estimate: 4 * Self.gib, learned: 5 * Self.gib) == 5 * Self.gib)
        #expect(JobCharge.bytes(estimate: 4 * Self.gib, learned: 3 * Self.gib) == 4 * Self.gib)
        #expect(JobCharge.bytes(estimate: .max, learned: nil) == .max)
        #expect(JobCharge.bytes(estimate: 0, learned: nil) == 0)
    }

    @Test func outOfMemoryIsReadFromPyTorchsMessage() {
        let torch = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 11.72 GiB of which 1.05 GiB is free."
        #expect(OutOfMemory.matches(exceptionType: "torch.OutOfMemoryError", message: ""))
        #expect(OutOfMemory.matches(exceptionType: "RuntimeError", message: torch))
        #expect(!OutOfMemory.matches(exceptionType: "ValueError", message: "bad input"))
        #expect(OutOfMemory.requestedBytes(in: torch) == 2 * Self.gib)
        #expect(OutOfMemory.requestedBytes(in: "Tried to allocate 512.00 MiB.") == 512 << 20)
        #expect(OutOfMemory.requestedBytes(in: "Tried to allocate lots") == nil)
        #expect(OutOfMemory.retryCharge(charged: 4 * Self.gib, message: torch) == 6 * Self.gib)
        #expect(OutOfMemory.retryCharge(charged: 8 * Self.gib, message: "out of memory") == 10 * Self.gib)
        #expect(OutOfMemory.retryCharge(charged: 1 * Self.gib, message: "out of memory") == 2 * Self.gib)
    }
}
