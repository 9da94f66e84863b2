import GPUCtlModels

/// Decides which Ollama models are resident: a value that turns events into actions, with no
/// I/O, so it is tested with plain values and drives the trace simulator and the benchmark.
///
/// Invariant: the bytes of every resident, loading and unloading model never exceed the budget
/// when a load is started. Policy (DESIGN.md, Scheduling): requests for a resident model run at
/// once, so waiting requests for one model are served together (A B A C runs as A A B C);
/// otherwise the oldest waiting request (interactive first; batch requests age into
/// interactive after `batchAging`) gets its model loaded, after evicting idle, unpinned models,
/// lowest priority first, then least recently used, as few as make it fit. A model younger than
/// `minimumResidency` is not evicted for another (the swap-rate limit). One load at a time.
/// A request that can never fit, or whose model fails to load, moves to the model's fallback
/// when it has one, and fails with the numbers otherwise.
public struct Scheduler: Sendable {
    public private(set) var budget: UInt64
    private var policies: [String: ModelPolicy]
    public internal(set) var residents: [Holder: Resident] = [:]
    private var waiting = WaitingQueue()
    /// ComfyUI jobs waiting for their turn and their VRAM (Scheduler+Jobs.swift).
    var jobs = WaitingQueue()
    var resumedJobs: [Waiting] = []
    /// Backends that may take work now (the job lane waits for its backend).
    public internal(set) var available: Set<Backend> = []
    var running: [RequestID: Holder] = [:]
    /// How long a batch request waits before it ranks with interactive ones.
    public var batchAging: Duration = .seconds(30)
    /// How long a loaded model stays before it may be evicted for another model's request.
    public var minimumResidency: Duration = .zero
    /// How long a backend whose free did not free is left alone before it is asked again.
    public var freeRetryDelay: Duration = .seconds(5)
    /// Which idle holder goes first when room is needed, among equal priorities.
    public var evictionOrder: EvictionOrder = .furthestNextUse
    /// When each holder is expected next (fed by arrivals; a simulator may give the future).
    public var forecast = NextUseForecast()

    /// How evictions choose among idle holders of equal priority.
    public enum EvictionOrder: String, Sendable, CaseIterable {
        /// The one used longest ago.
        case leastRecentlyUsed
        /// The one expected furthest in the future (never expected again first), then the one
        /// used longest ago.
        case furthestNextUse
    }

    public init(budget: UInt64, policies: [String: ModelPolicy]) {
        self.budget = budget
        self.policies = policies
    }

    /// Models held now and their bytes (loading and unloading ones included).
    public var residentBytes: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: residents.compactMap { holder, resident in holder.model.map { ($0, resident.bytes) } })
    }
    /// Everything held now, models and backends' working sets.
    public var heldBytes: [Holder: UInt64] { residents.mapValues(\.bytes) }
    /// What `model` has on the card, if anything.
    public func resident(_ model: String) -> Resident? { residents[.model(model)] }
    /// What `backend`'s working set has on the card, if anything.
    public func resident(_ backend: Backend) -> Resident? { residents[.backend(backend)] }
    public var usedBytes: UInt64 { residents.values.map(\.bytes).saturatingSum() }
    public var waitingCount: Int { waiting.count }
    /// ComfyUI jobs waiting for their turn.
    public var waitingJobs: Int { jobs.count + resumedJobs.count }
    /// Model requests (inference, loads) waiting, per class.
    public var waitingByClass: [JobClass: Int] { waiting.countsByClass }
    /// ComfyUI jobs waiting, per class.
    public var waitingJobsByClass: [JobClass: Int] {
        resumedJobs.reduce(into: jobs.countsByClass) { $0[$1.requestClass, default: 0] += 1 }
    }
    /// Requests waiting per model.
    public var waitingByModel: [String: Int] { waiting.countsByModel }
    /// True while a load or unload is under way.
    public var isChanging: Bool { residents.values.contains { $0.phase != .loaded } }
    public func policy(_ model: String) -> ModelPolicy? { policies[model] }

    public mutating func handle(_ event: Event, now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .requested(let id, let model, let requestClass, let exact):
            guard policies[model] != nil else { return [.fail(id, .unknownModel(model))] }
            forecast.arrived(.model(model), at: now)
            waiting.append(Waiting(id: id, model: model, requestClass: requestClass, since: now, exact: exact))
        case .finished(let id):
            if let holder = running.removeValue(forKey: id), var resident = residents[holder] {
                resident.inFlight = max(0, resident.inFlight - 1)
                resident.lastUsed = now
                residents[holder] = resident
                if let model = holder.model { actions += unloadIfMarked(model) }
            }
        case .cancelled(let id):
            waiting.remove(id)
            jobs.remove(id)
            resumedJobs.removeAll { $0.id == id }
        case .loaded(let model, let bytes):
            var resident = residents[.model(model)] ?? Resident(phase: .loaded, bytes: bytes, lastUsed: now, loadedAt: now)
            resident.phase = .loaded
            resident.bytes = bytes
            resident.loadedAt = now
            residents[.model(model)] = resident
            actions += unloadIfMarked(model)
        case .loadFailed(let model, let reason):
            residents[.model(model)] = nil
            actions += redirectOrFail(model) { .loadFailed(model: model, reason: reason) }
        case .unloaded(let model):
            if residents[.model(model)]?.inFlight ?? 0 == 0 { residents[.model(model)] = nil }
        case .freed(let backend):
            if residents[.backend(backend)]?.inFlight ?? 0 == 0 { residents[.backend(backend)] = nil }
        case .freeFailed(let backend, let stillHeld):
            if var resident = residents[.backend(backend)], resident.phase == .unloading {
                resident.phase = .loaded
                if let stillHeld { resident.bytes = stillHeld }
                resident.retryAt = now + freeRetryDelay
                residents[.backend(backend)] = resident
            }
        case .unloadFailed(let model):
            residents[.model(model)]?.phase = .loaded
            residents[.model(model)]?.unloadWhenIdle = false
        case .unloadRequested(let model):
            residents[.model(model)]?.unloadWhenIdle = true
            actions += unloadIfMarked(model)
        case .observed(let held):
            reconcile(held, now: now)
        case .budgetChanged(let bytes):
            budget = bytes
        case .policyChanged(let model, let policy):
            policies[model] = policy
        case .tick:
            break
        case .jobRequested(let id, let bytes, let requestClass, let resumed):
            forecast.arrived(Self.jobHolder, at: now)
            let job = Waiting(id: id, model: Self.jobBackend.rawValue, requestClass: requestClass, since: now, exact: true, bytes: bytes)
            if resumed { resumedJobs.append(job) } else { jobs.append(job) }
        case .backendAvailable(let backend, let isAvailable):
            if isAvailable { available.insert(backend) } else { available.remove(backend) }
        case .backendObserved(let backend, let bytes):
            observe(backend, holding: bytes, now: now)
        }
        return actions + schedule(now: now)
    }

    private mutating func unloadIfMarked(_ model: String) -> [Action] {
        guard let resident = residents[.model(model)], resident.unloadWhenIdle, resident.phase == .loaded,
              resident.inFlight == 0 else { return [] }
        residents[.model(model)]?.phase = .unloading
        return [.unload(model: model)]
    }

    /// Waiting requests for `model` move to its fallback (exact ones excepted), or fail with `failure`.
    mutating func redirectOrFail(_ model: String, failure: () -> Failure) -> [Action] {
        if let fallback = policies[model]?.fallback, policies[fallback] != nil {
            waiting.retarget(model, to: fallback)
        }
        return waiting.takeAll(for: model).map { .fail($0.id, failure()) }
    }

    /// Observations win: a model loaded behind our back is counted; one that vanished is gone.
    /// A model we are loading keeps the larger of the estimate and what is measured so far.
    private mutating func reconcile(_ held: [String: UInt64], now: ContinuousClock.Instant) {
        for (model, bytes) in held {
            if var resident = residents[.model(model)] {
                if resident.phase == .loading {
                    resident.bytes = max(resident.bytes, bytes)
                } else {
                    resident.bytes = bytes
                }
                residents[.model(model)] = resident
            } else {
                residents[.model(model)] = Resident(phase: .loaded, bytes: bytes, lastUsed: now, loadedAt: now)
            }
        }
        for (holder, resident) in residents where resident.phase != .loading && resident.inFlight == 0 {
            guard let model = holder.model, held[model] == nil else { continue }
            residents[holder] = nil
        }
    }

    mutating func schedule(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        // Requests for loaded models run at once, whatever their rank, oldest first.
        var runnable: [Waiting] = []
        for (holder, resident) in residents where resident.phase == .loaded && !resident.unloadWhenIdle {
            guard let model = holder.model, waiting.hasWaiting(for: model) else { continue }
            let requests = waiting.takeAll(for: model)
            residents[holder]?.inFlight += requests.count
            residents[holder]?.lastUsed = now
            runnable += requests
        }
        for request in runnable.sorted(by: { ($0.since, $0.id) < ($1.since, $1.id) }) {
            running[request.id] = .model(request.model)
            actions.append(.run(request.id, model: request.model))
        }
        // One load at a time, and none while an eviction is in progress.
        guard !isChanging else { return actions }
        let modelNext = waiting.next(now: now, aging: batchAging)
        if let job = nextJob(now: now), modelNext.map({ rank(job, now: now) < rank($0, now: now) }) ?? true {
            return actions + place(job, now: now)
        }
        guard let next = modelNext, let policy = policies[next.model] else { return actions }
        // Resident but on its way out: it reloads once the unload is done.
        guard residents[.model(next.model)] == nil else { return actions }
        let pinned = pinnedBytes(except: .model(next.model))
        if policy.footprint > budget - min(budget, pinned) {
            let failure = Failure.doesNotFit(model: next.model, needed: policy.footprint, budget: budget, pinned: pinned)
            return actions + redirectOrFail(next.model) { failure } + schedule(now: now)
        }
        let free = budget - min(budget, usedBytes)
        if policy.footprint <= free {
            residents[.model(next.model)] = Resident(phase: .loading, bytes: policy.footprint, lastUsed: now, loadedAt: now)
            return actions + [.load(model: next.model)]
        }
        let room = makeRoom(for: policy.footprint, free: free, now: now)
        if let victims = room.victims { return actions + victims.map { evict($0) } }
        // It cannot fit now. A fallback that is loaded, or fits in what is free, serves at once.
        if let fallback = policy.fallback, let fallbackPolicy = policies[fallback],
           residents[.model(fallback)]?.phase == .loaded || fallbackPolicy.footprint <= free,
           waiting.retarget(next.model, to: fallback) {
            return actions + schedule(now: now)
        }
        if let wake = room.wake { actions.append(.wake(at: wake)) }
        // Otherwise wait for requests in flight to finish.
        return actions
    }

    /// Idle, unpinned residents to unload so `needed` fits beside `free`: lowest priority, then
    /// (by `evictionOrder`) the one needed furthest ahead, then least recently used, as few as
    /// make it fit. nil victims when it cannot fit now; `wake`
    /// when only models younger than `minimumResidency` hold it back.
    func makeRoom(for needed: UInt64, free: UInt64, excluding: Holder? = nil,
                  now: ContinuousClock.Instant) -> (victims: [Holder]?, wake: ContinuousClock.Instant?) {
        let idle = residents.filter {
            $0.key != excluding && $0.value.phase == .loaded && $0.value.inFlight == 0 && !(policy(of: $0.key)?.pinned ?? false)
        }
        // Young models wait out the swap-rate limit; a backend whose free failed, its retry delay.
        let readyAt = { (resident: Resident) in max(resident.loadedAt + minimumResidency, resident.retryAt ?? resident.loadedAt) }
        let candidates = idle.filter { readyAt($0.value) <= now }.sorted { lhs, rhs in
            let left = policy(of: lhs.key)?.priority ?? ModelSpec.defaultPriority
            let right = policy(of: rhs.key)?.priority ?? ModelSpec.defaultPriority
            if left != right { return left < right }
            if evictionOrder == .furthestNextUse {
                // Never expected again sorts as the furthest.
                switch (forecast.nextUse(of: lhs.key, now: now), forecast.nextUse(of: rhs.key, now: now)) {
                case (nil, .some): return true
                case (.some, nil): return false
                case (let left?, let right?) where left != right: return left > right
                default: break
                }
            }
            if lhs.value.lastUsed != rhs.value.lastUsed { return lhs.value.lastUsed < rhs.value.lastUsed }
            // A total order: the same events give the same evictions in every process.
            return lhs.key.description < rhs.key.description
        }
        var freed = free
        var victims: [Holder] = []
        for (holder, resident) in candidates where freed < needed {
            victims.append(holder)
            freed = freed.addingSaturating(resident.bytes)
        }
        if freed >= needed { return (victims, nil) }
        let young = idle.filter { readyAt($0.value) > now }
        guard freed.addingSaturating(young.values.map(\.bytes).saturatingSum()) >= needed else { return (nil, nil) }
        return (nil, young.values.map(readyAt).min())
    }

    /// Bytes held by pinned residents other than `holder`.
    func pinnedBytes(except holder: Holder) -> UInt64 {
        residents.filter { $0.key != holder && (policy(of: $0.key)?.pinned ?? false) }.values.map(\.bytes).saturatingSum()
    }

    /// A model's policy; a backend's working set has none (default priority, never pinned).
    func policy(of holder: Holder) -> ModelPolicy? { holder.model.flatMap { policies[$0] } }

    /// Starts giving `holder`'s memory back: an unload for a model, a free for a backend.
    mutating func evict(_ holder: Holder) -> Action {
        residents[holder]?.phase = .unloading
        switch holder {
        case .model(let model): return .unload(model: model)
        case .backend(let backend): return .free(backend)
        }
    }
}
