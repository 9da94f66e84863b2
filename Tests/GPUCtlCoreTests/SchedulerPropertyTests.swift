import GPUCtlCore
import GPUCtlModels
import Testing

/// The Scheduler under random event sequences, driven by a small simulated world that answers
/// its actions as the daemon's workers would (loads and unloads take time, some fail; requests
/// and jobs run for a while; ComfyUI's /free sometimes frees nothing; ComfyUI comes and goes).
/// Each seed is one world: random card, catalog, arrivals. After every event the invariants
/// hold: what is charged never exceeds the budget, a model is never unloaded while a request
/// runs on it, a pinned model is never evicted, no request gets two answers. At the end every
/// request has ended, none waited past the starvation bound, and the same seed gives the same
/// decisions.
@Suite struct SchedulerPropertyTests {
    static let gib: UInt64 = 1 << 30
    static let seeds: [UInt64] = Array(1...300)
    static let origin = ContinuousClock.now

    /// What the world does next, at a time.
    enum Happening: Equatable {
        case event(Scheduler.Event)
        case arrival
    }

    struct World {
        var random: SeededRandom
        var scheduler: Scheduler
        var models: [String]
        var pinned: Set<String>
        /// One origin for every world, so that two runs of a seed log the same instants.
        let start = SchedulerPropertyTests.origin
        var now: Duration = .zero
        var agenda: [(at: Duration, order: Int, happening: Happening)] = []
        var order = 0
        var nextID: Scheduler.RequestID = 1
        var arrivalsLeft: Int
        /// Requests asked for and not yet answered (run or failed), with when they came.
        var waiting: [Scheduler.RequestID: Duration] = [:]
        /// Requests running, and on what.
        var running: [Scheduler.RequestID: Holder] = [:]
        var answered: Set<Scheduler.RequestID> = []
        var longestWait: Duration = .zero
        var log: [String] = []
        var violations: [String] = []

        init(seed: UInt64) {
            random = SeededRandom(seed: seed)
            let budget = UInt64(8 + random.below(17)) * SchedulerPropertyTests.gib
            models = (0..<(2 + random.below(4))).map { "m\($0)" }
            var policies: [String: Scheduler.ModelPolicy] = [:]
            var pinned: Set<String> = []
            for model in models {
                let isPinned = random.below(8) == 0 && pinned.isEmpty
                if isPinned { pinned.insert(model) }
                // Footprints up to 10 GiB: some models never fit on a small card.
                policies[model] = .init(footprint: UInt64(1 + random.below(10)) * SchedulerPropertyTests.gib,
                                        priority: 10 * random.below(10), pinned: isPinned)
            }
            self.pinned = pinned
            scheduler = Scheduler(budget: budget, policies: policies)
            scheduler.minimumResidency = .seconds(random.below(4))
            scheduler.batchAging = .seconds(5 + random.below(30))
            arrivalsLeft = 40 + random.below(80)
            schedule(.event(.backendAvailable(.comfyui, true)), after: .zero)
            schedule(.arrival, after: .zero)
        }

        mutating func schedule(_ happening: Happening, after delay: Duration) {
            order += 1
            agenda.append((now + delay, order, happening))
        }

        mutating func milliseconds(_ upTo: Int) -> Duration { .milliseconds(random.below(upTo) + 1) }

        /// Runs until nothing is left to happen.
        mutating func run() {
            while let next = agenda.indices.min(by: { (agenda[$0].at, agenda[$0].order) < (agenda[$1].at, agenda[$1].order) }) {
                let item = agenda.remove(at: next)
                now = item.at
                switch item.happening {
                case .arrival: arrive()
                case .event(let event): feed(event)
                }
            }
        }

        mutating func arrive() {
            guard arrivalsLeft > 0 else { return }
            arrivalsLeft -= 1
            let id = nextID
            nextID += 1
            waiting[id] = now
            let requestClass: JobClass = random.below(3) == 0 ? .batch : .interactive
            if random.below(4) == 0 {
                feed(.jobRequested(id, bytes: UInt64(random.below(12)) * SchedulerPropertyTests.gib / 2, requestClass: requestClass))
            } else {
                feed(.requested(id, model: models[random.below(models.count)], requestClass: requestClass))
            }
            // Now and then a caller gives up while it waits, or ComfyUI goes away for a while.
            if random.below(12) == 0 { schedule(.event(.cancelled(id)), after: milliseconds(3_000)) }
            if random.below(30) == 0 {
                schedule(.event(.backendAvailable(.comfyui, false)), after: .zero)
                schedule(.event(.backendAvailable(.comfyui, true)), after: milliseconds(5_000))
            }
            schedule(.arrival, after: milliseconds(2_000))
        }

        mutating func feed(_ event: Scheduler.Event) {
            if case .finished(let id) = event { running[id] = nil }
            if case .cancelled(let id) = event {
                // Only a request still waiting can be cancelled; it is then answered.
                guard waiting[id] != nil else { return }
                waiting[id] = nil
                answered.insert(id)
            }
            let actions = scheduler.handle(event, now: start + now)
            log.append("\(now) \(event) -> \(actions)")
            for action in actions { act(action) }
            check()
        }

        mutating func answer(_ id: Scheduler.RequestID) {
            if answered.contains(id) { violations.append("\(now): request \(id) answered twice") }
            answered.insert(id)
            if let since = waiting.removeValue(forKey: id) { longestWait = max(longestWait, now - since) }
        }

        mutating func act(_ action: Scheduler.Action) {
            switch action {
            case .load(let model):
                let bytes = scheduler.policy(model)!.footprint
                if random.below(15) == 0 {
                    schedule(.event(.loadFailed(model: model, reason: "injected")), after: milliseconds(500))
                } else {
                    // Measured a little below the estimate, as Ollama's size_vram usually is.
                    schedule(.event(.loaded(model: model, bytes: bytes - bytes / 20)), after: milliseconds(2_000))
                }
            case .unload(let model):
                if running.values.contains(.model(model)) { violations.append("\(now): \(model) unloaded while a request runs on it") }
                if pinned.contains(model) { violations.append("\(now): pinned \(model) evicted") }
                schedule(.event(.unloaded(model: model)), after: milliseconds(300))
            case .free(let backend):
                if running.values.contains(.backend(backend)) { violations.append("\(now): \(backend) freed while a job runs") }
                let freed: Scheduler.Event = random.below(5) == 0 ? .freeFailed(backend, stillHeld: nil) : .freed(backend)
                schedule(.event(freed), after: milliseconds(1_000))
            case .run(let id, let model):
                answer(id)
                running[id] = .model(model)
                schedule(.event(.finished(id)), after: milliseconds(4_000))
            case .runJob(let id, let backend):
                answer(id)
                running[id] = .backend(backend)
                schedule(.event(.finished(id)), after: milliseconds(6_000))
            case .fail(let id, _):
                answer(id)
            case .wake(let instant):
                schedule(.event(.tick), after: max(.zero, (instant - start) - now))
            }
        }

        mutating func check() {
            let used = scheduler.usedBytes
            if used > scheduler.budget { violations.append("\(now): \(used) charged on a budget of \(scheduler.budget)") }
        }
    }

    @Test(arguments: seeds) func invariantsHoldUnderRandomEvents(seed: UInt64) {
        var world = World(seed: seed)
        world.run()
        #expect(world.violations.isEmpty, "seed \(seed): \(world.violations.prefix(5))")
        let unanswered = world.waiting.keys.sorted()
        #expect(unanswered.isEmpty, "seed \(seed): requests never answered: \(unanswered)\n\(world.log.suffix(20).joined(separator: "\n"))")
        // Every request runs for at most 6 s and loads take at most 2 s: no request should wait
        // anywhere near ten minutes, whatever its class.
        #expect(world.longestWait < .seconds(600), "seed \(seed): a request waited \(world.longestWait)")
        var again = World(seed: seed)
        again.run()
        let differ = zip(again.log, world.log).first { $0 != $1 }
        #expect(again.log == world.log, "seed \(seed): the same events gave other decisions: \(differ.map { "\($0.1)\n  then \($0.0)" } ?? "")")
    }

    /// The worlds are not too kind to mean anything: across the seeds the Scheduler loads,
    /// evicts, frees ComfyUI's memory (and sees frees fail), runs jobs, refuses what never fits,
    /// and waits out the swap-rate limit.
    @Test func theWorldsReachEveryKindOfDecision() {
        var seen: [String: Int] = [:]
        for seed in Self.seeds {
            var world = World(seed: seed)
            world.run()
            for line in world.log {
                for kind in ["load(", "unload(", "free(", "freeFailed(", "runJob(", "doesNotFit(", "loadFailed(", "wake(", "cancelled("]
                where line.contains(kind) { seen[kind, default: 0] += 1 }
            }
        }
        for kind in ["load(", "unload(", "free(", "freeFailed(", "runJob(", "doesNotFit(", "loadFailed(", "wake(", "cancelled("] {
            #expect(seen[kind, default: 0] > 0, "no world reached \(kind): \(seen)")
        }
        print("scheduler property worlds: \(seen.sorted { $0.key < $1.key })")
    }
}
