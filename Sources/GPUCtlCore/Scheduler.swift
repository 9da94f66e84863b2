import GPUCtlModels

/// Decides which Ollama models are resident: a value that turns events into actions, with no
/// I/O, so it is tested with plain values and drives the trace simulator.
///
/// Invariant: the bytes of every resident, loading and unloading model never exceed the budget
/// when a load is started. Policy (DESIGN.md, Scheduling): requests for a resident model run at
/// once; otherwise the oldest waiting request (interactive first; batch requests age into
/// interactive after `batchAging`) gets its model loaded, after evicting idle, unpinned models,
/// lowest priority first, then least recently used, as few as make it fit. One load at a time.
/// A request that can never fit fails at once with the numbers.
public struct Scheduler: Sendable {
    public private(set) var budget: UInt64
    private var policies: [String: ModelPolicy]
    private var residents: [String: Resident] = [:]
    private var waiting: [Waiting] = []
    private var running: [RequestID: String] = [:]
    /// How long a batch request waits before it ranks with interactive ones.
    public var batchAging: Duration = .seconds(30)

    public init(budget: UInt64, policies: [String: ModelPolicy]) {
        self.budget = budget
        self.policies = policies
    }

    /// Models held now and their bytes (loading and unloading ones included).
    public var residentBytes: [String: UInt64] { residents.mapValues(\.bytes) }
    public var usedBytes: UInt64 { residents.values.reduce(0) { $0 + $1.bytes } }
    public var waitingCount: Int { waiting.count }

    public mutating func handle(_ event: Event, now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .requested(let id, let model, let requestClass):
            guard policies[model] != nil else { return [.fail(id, .unknownModel(model))] }
            waiting.append(Waiting(id: id, model: model, requestClass: requestClass, since: now))
        case .finished(let id):
            if let model = running.removeValue(forKey: id), var resident = residents[model] {
                resident.inFlight = max(0, resident.inFlight - 1)
                resident.lastUsed = now
                residents[model] = resident
            }
        case .cancelled(let id):
            waiting.removeAll { $0.id == id }
        case .loaded(let model, let bytes):
            residents[model, default: Resident(phase: .loaded, bytes: bytes, lastUsed: now)].phase = .loaded
            residents[model]?.bytes = bytes
        case .loadFailed(let model, let reason):
            residents[model] = nil
            for request in waiting where request.model == model {
                actions.append(.fail(request.id, .loadFailed(model: model, reason: reason)))
            }
            waiting.removeAll { $0.model == model }
        case .unloaded(let model):
            if residents[model]?.inFlight ?? 0 == 0 { residents[model] = nil }
        case .observed(let held):
            reconcile(held, now: now)
        case .budgetChanged(let bytes):
            budget = bytes
        }
        return actions + schedule(now: now)
    }

    /// Observations win: a model loaded behind our back is counted; one that vanished is gone.
    private mutating func reconcile(_ held: [String: UInt64], now: ContinuousClock.Instant) {
        for (model, bytes) in held {
            if var resident = residents[model] {
                if resident.phase != .unloading { resident.phase = .loaded }
                resident.bytes = bytes
                residents[model] = resident
            } else {
                residents[model] = Resident(phase: .loaded, bytes: bytes, lastUsed: now)
            }
        }
        for (model, resident) in residents where held[model] == nil && resident.phase != .loading && resident.inFlight == 0 {
            residents[model] = nil
        }
    }

    private func rank(_ request: Waiting, now: ContinuousClock.Instant) -> (Int, ContinuousClock.Instant) {
        let interactive = request.requestClass == .interactive || now - request.since >= batchAging
        return (interactive ? 0 : 1, request.since)
    }

    private mutating func schedule(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        // Requests for loaded models run at once, whatever their rank.
        waiting.removeAll { request in
            guard var resident = residents[request.model], resident.phase == .loaded else { return false }
            resident.inFlight += 1
            resident.lastUsed = now
            residents[request.model] = resident
            running[request.id] = request.model
            actions.append(.run(request.id, model: request.model))
            return true
        }
        // One load at a time, and none while an eviction is in progress.
        guard !residents.values.contains(where: { $0.phase != .loaded }) else { return actions }
        let ordered = waiting.sorted { rank($0, now: now) < rank($1, now: now) }
        guard let next = ordered.first, let policy = policies[next.model] else { return actions }
        let pinned = residents.filter { policies[$0.key]?.pinned ?? false }.values.reduce(0) { $0 + $1.bytes }
        if policy.footprint > budget - min(budget, pinned) {
            for request in waiting where request.model == next.model {
                actions.append(.fail(request.id, .doesNotFit(model: next.model, needed: policy.footprint,
                                                             budget: budget, pinned: pinned)))
            }
            waiting.removeAll { $0.model == next.model }
            return actions + schedule(now: now)
        }
        let free = budget - min(budget, usedBytes)
        if policy.footprint <= free {
            residents[next.model] = Resident(phase: .loading, bytes: policy.footprint, lastUsed: now)
            return actions + [.load(model: next.model)]
        }
        // Evict idle, unpinned models: lowest priority, then least recently used, until it fits.
        let candidates = residents
            .filter { $0.value.phase == .loaded && $0.value.inFlight == 0 && !(policies[$0.key]?.pinned ?? false) }
            .sorted { lhs, rhs in
                let left = policies[lhs.key]?.priority ?? ModelSpec.defaultPriority
                let right = policies[rhs.key]?.priority ?? ModelSpec.defaultPriority
                return left != right ? left < right : lhs.value.lastUsed < rhs.value.lastUsed
            }
        var freed = free
        var victims: [String] = []
        for (model, resident) in candidates where freed < policy.footprint {
            victims.append(model)
            freed += resident.bytes
        }
        // Not enough idle memory yet: wait for requests in flight to finish.
        guard freed >= policy.footprint else { return actions }
        for model in victims {
            residents[model]?.phase = .unloading
            actions.append(.unload(model: model))
        }
        return actions
    }
}
