import GPUCtlCore
import GPUCtlModels
import GPUCtlSim
import GPUCtlTestSupport
import Testing

/// The simulator's world and the policies on it: exact numbers on a trace small enough to
/// work out by hand, and what must hold on every shipped trace and on random ones. The long
/// replays run on threads of their own (`blocking`) and one at a time: on the cooperative
/// pool they would hold the threads the daemon tests' in-process daemons need.
@Suite(.serialized) struct SimulationTests {
    static let gib: UInt64 = 1 << 30

    static func card(_ trace: TraceFile) -> CardSettings {
        CardSettings(cardBytes: (trace.header.card ?? .gibibytes(24)).bytes)
    }

    static func result(_ kind: PolicyKind, _ trace: TraceFile, card: CardSettings? = nil) -> SimulationResult {
        let settings = card ?? Self.card(trace)
        return Simulation.run(trace, policy: kind.make(header: trace.header, card: settings.cardBytes), card: settings)
    }

    /// One 4 GiB model at 2 GiB/s with 0.5 s overhead loads in 2.5 s; 100 prompt tokens at
    /// 1,000/s and 40 output tokens at 40/s take 1.1 s. A second request 1 s later waits
    /// for the first (one at a time per model): it starts at 3.6 s.
    @Test func aHandWorkedTraceGivesTheNumbersWorkedByHand() {
        let header = Trace.Header(trace: "tiny", card: .gibibytes(8),
                                  models: [.init(name: "m", bytes: .gibibytes(4), tokensPerSecond: 40, promptTokensPerSecond: 1_000)],
                                  workflows: [])
        let trace = TraceFile(header: header, arrivals: [
            .ollama(at: 0, model: "m", promptTokens: 100, outputTokens: 40),
            .ollama(at: 1, model: "m", promptTokens: 100, outputTokens: 40),
        ])
        for kind in PolicyKind.allCases {
            let result = Self.result(kind, trace)
            #expect(result.loads == 1 && result.bytesLoaded == 4 * Self.gib, "\(kind)")
            #expect(abs(result.loadSeconds - 2.5) < 1e-9, "\(kind): \(result.loadSeconds)")
            #expect(abs(result.interactive.p50 - 2.5) < 1e-9 && abs(result.interactive.max - 2.6) < 1e-9, "\(kind): \(result.interactive)")
            #expect(abs(result.makespan - 4.7) < 1e-9, "\(kind): \(result.makespan)")
            #expect(result.served == 2 && result.failed == 0 && result.outOfMemory == 0)
        }
    }

    /// The case: a 7 GiB model resident on a 12 GiB card, a job whose checkpoint is
    /// 4 GiB by the catalog and whose sampling takes 2 GiB more. Charged by the catalog it is
    /// admitted beside the model and every one runs out of memory; the shipped policy charges
    /// room for sampling until it has seen the workflow, so none does; without that room the
    /// first one runs out, is retried with the shortfall, and the rest are charged what it took.
    @Test func aJobThatNeedsMoreThanItsCatalogSizeNeverFailsUnderGPUCtl() async throws {
        let trace = try #require(TraceLibrary.named("chat-illustrate"))
        let jobs = trace.arrivals.filter { $0.workflow != nil }.count
        let (before, shipped, retried) = try await blocking {
            (Self.result(.gpuctlBefore, trace), Self.result(.gpuctl, trace), Self.result(.gpuctlNoHeadroom, trace))
        }
        #expect(before.outOfMemory == jobs && before.failed == jobs)
        #expect(shipped.outOfMemory == 0 && shipped.failed == 0 && shipped.peakBytes <= 12 * Self.gib)
        #expect(retried.outOfMemory == 1 && retried.failed == 0, "\(retried.outOfMemory) \(retried.failed)")
    }

    /// A B A C with room for two: evicting the least recently used throws out A's successor's
    /// partner every time; next-use keeps A and loads what Belady loads.
    @Test func nextUseEvictionsMatchTheOfflineBoundOnTheAlternation() async throws {
        let trace = try #require(TraceLibrary.named("abac"))
        let (lru, shipped, belady, unloadAll) = try await blocking {
            (Self.result(.gpuctlLRU, trace), Self.result(.gpuctl, trace), Self.result(.belady, trace), Self.result(.unloadAll, trace))
        }
        #expect(shipped.bytesLoaded < lru.bytesLoaded)
        #expect(shipped.bytesLoaded <= belady.bytesLoaded + belady.bytesLoaded / 4)
        #expect(unloadAll.loads == trace.arrivals.count)
    }

    /// On every shipped trace: every arrival ends, no policy asks the world for the impossible,
    /// gpuctl never runs the card out of memory and loads within 1.25× of Belady's bytes, and a
    /// second replay gives the same numbers.
    @Test(arguments: TraceLibrary.names) func everyShippedTraceHoldsTheTargets(name: String) async throws {
        let trace = try #require(TraceLibrary.named(name))
        // The longest trace under the policies its checks need (gpuctl-bench sim replays every
        // policy on it): in a debug build all ten took half a core for most of the suite.
        let kinds = trace.arrivals.count > 2_000 ? [.gpuctl, .gpuctlNoExpiry, .gpuctlFixedKeepAlive, .belady] : PolicyKind.allCases
        let results = try await blocking { kinds.map { ($0, Self.result($0, trace)) } }
        var byPolicy: [PolicyKind: SimulationResult] = [:]
        for (kind, result) in results {
            #expect(result.served + result.failed == trace.arrivals.count, "\(name) \(kind): \(result.served) + \(result.failed)")
            #expect(result.contradictions == 0, "\(name) \(kind): \(result.contradictionNotes)")
            byPolicy[kind] = result
        }
        let gpuctl = try #require(byPolicy[.gpuctl]), belady = try #require(byPolicy[.belady])
        #expect(gpuctl.outOfMemory == 0 && gpuctl.failed == 0 && gpuctl.peakBytes <= Self.card(trace).cardBytes)
        // Its evictions are within 1.25× of Belady's bytes; the keep_alive expiries it adds (to
        // give an idle card back, which Belady never does) cost no more than Ollama's own timer.
        let noExpiry = try #require(byPolicy[.gpuctlNoExpiry]), fixed = try #require(byPolicy[.gpuctlFixedKeepAlive])
        #expect(Double(noExpiry.bytesLoaded) <= 1.25 * Double(belady.bytesLoaded), "\(name): \(noExpiry.bytesLoaded) vs \(belady.bytesLoaded)")
        #expect(gpuctl.bytesLoaded <= fixed.bytesLoaded, "\(name): \(gpuctl.bytesLoaded) vs \(fixed.bytesLoaded)")
        var again = try await blocking { Self.result(.gpuctl, trace) }
        again.replaySeconds = gpuctl.replaySeconds
        #expect(again == gpuctl)
    }

    /// Random traces on random cards: the world's invariants for every policy.
    @Test(arguments: Array(UInt64(1)...8)) func randomTracesEndEveryArrivalUnderEveryPolicy(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let card = ByteSize.gibibytes(UInt64(12 + random.below(20)))
        let trace = TraceLibrary.random(seed: seed, arrivals: 300, meanGap: 2 + Double(random.below(10)), card: card)
        let results = try await blocking { PolicyKind.allCases.map { ($0, Self.result($0, trace)) } }
        for (kind, result) in results {
            #expect(result.served + result.failed == trace.arrivals.count, "seed \(seed) \(kind)")
            #expect(result.contradictions == 0, "seed \(seed) \(kind): \(result.contradictionNotes)")
            if kind == .gpuctl || kind == .belady || kind == .unloadAll {
                #expect(result.peakBytes <= card.bytes, "seed \(seed) \(kind): \(result.peakBytes)")
            }
        }
    }

    /// A trace in the file format replays the same as the value it was written from.
    @Test func aWrittenTraceReadsBackAndReplaysTheSame() async throws {
        let trace = TraceLibrary.random(seed: 99, arrivals: 300)
        let read = try TraceFile(jsonLines: trace.jsonLines())
        #expect(read == trace)
        var (first, second) = try await blocking { (Self.result(.gpuctl, trace), Self.result(.gpuctl, read)) }
        first.replaySeconds = 0
        second.replaySeconds = 0
        #expect(first == second)
    }
}
