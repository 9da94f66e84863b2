import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore
import Logging
import OllamaClient

/// The Supervisor's record of Ollama residency, beside the Scheduler that decides it.
struct ResidencyState {
    var scheduler: Scheduler
    var nextRequestID: Scheduler.RequestID = 1
    var pending: [Scheduler.RequestID: (requested: String, since: ContinuousClock.Instant, source: RequestSource,
                                        requestClass: JobClass)] = [:]
    /// When a waiting request with a limit of its own (a front door's queue timeout) gives up.
    var waitLimits: [Scheduler.RequestID: (deadline: ContinuousClock.Instant, limit: Duration, setting: DaemonSetting)] = [:]
    /// Bumped whenever a load or unload starts or ends: a /api/ps answer taken before is stale.
    var epoch = 0
    var loadStarted: [String: ContinuousClock.Instant] = [:]
    var lastLoad: [String: (finishedAt: ContinuousClock.Instant, duration: Duration)] = [:]
    var unloadWaiters: [String: [CheckedContinuation<Bool, Never>]] = [:]
    var embeddingOnly: [String: Bool] = [:]
    var keepAliveOverrides: [String: KeepAlive] = [:]
    /// The keep_alive sent for a model the catalog sets none for (KeepAlivePlan), from its requests.
    var keepAliveHints: [String: KeepAlive] = [:]
    /// Models Ollama keeps forever that gpuctld did not pin (another client's keep_alive < 0).
    var externallyPinned: Set<String> = []
    /// The last /api/ps entry of each resident model, by Scheduler key.
    var lastRunning: [String: RunningModel] = [:]
    /// The most each model's loads measured since start: what the store's learned footprint
    /// holds once the worker has written it (read models do not wait for that write).
    var measuredAtLoad: [String: UInt64] = [:]
    var lastUsed: [String: Date] = [:]
    /// Why the last load of each model failed, so the error kind survives the Scheduler.
    var lastLoadError: [String: Error] = [:]
    /// Each granted request's model and where it came from, until it finishes.
    var running: [Scheduler.RequestID: (model: String, source: RequestSource)] = [:]

    /// Running requests per model and source.
    var runningBySource: [String: [RequestSource: Int]] {
        running.values.reduce(into: [:]) { counts, entry in counts[entry.model, default: [:]][entry.source, default: 0] += 1 }
    }
}

/// What a load sends to Ollama.
struct LoadPlan: Sendable {
    var keepAlive: JSONValue?
    var options: [String: JSONValue]
    /// nil until /api/show has been asked.
    var embeddingOnly: Bool?
}

extension Supervisor {
    static func footprintSubject(_ model: String) -> String { "ollama:\(model)" }
    /// Where a workflow's learned peak is kept.
    static func footprintSubject(workflow: String) -> String { "workflow:\(workflow)" }

    /// The catalog's models loaded by name (Ollama's, and a TTS server's voice model), each
    /// charged max(declared, learned).
    static func policies(catalog: Catalog, store: JobStore, logger: Logger) -> [String: Scheduler.ModelPolicy] {
        var policies: [String: Scheduler.ModelPolicy] = [:]
        for spec in catalog.models where spec.backend != .comfyui {
            let learned = (try? store.footprint(subject: footprintSubject(spec.name)))?.peakBytes ?? 0
            policies[spec.name] = .init(footprint: max(spec.vram.bytes, UInt64(max(0, learned))), priority: spec.priority,
                                        pinned: spec.pinned, fallback: spec.fallback)
        }
        return policies
    }

    /// The backend that loads `model`: the catalog's word, else Ollama (models it has that the
    /// catalog does not name).
    func modelBackend(_ model: String) -> Backend {
        catalog.model(named: model)?.backend ?? .ollama
    }

    /// The Scheduler's name for a model: the catalog's, by name or alias; else a model the
    /// Scheduler already knows (one Ollama has, registered earlier). nil when unknown.
    func schedulerKey(for name: String) -> String? {
        if let spec = catalog.model(named: name) { return spec.backend == .ollama ? spec.name : nil }
        if residency.scheduler.policy(name) != nil { return name }
        let normalised = OllamaName.normalise(name)
        return catalog.models.first { $0.backend == .ollama && OllamaName.normalise($0.name) == normalised }?.name
    }

    /// Makes a model that is not in the catalog usable: it is charged its size on disk plus a
    /// fifth (KV cache and graph) until a load measures it.
    func register(_ name: String, diskSize: UInt64) {
        guard residency.scheduler.policy(name) == nil else { return }
        let learned = (try? store.footprint(subject: Self.footprintSubject(name)))?.peakBytes ?? 0
        let estimate = diskSize + diskSize / 5
        apply(.policyChanged(model: name, .init(footprint: max(estimate, UInt64(max(0, learned))))))
    }

    /// Waits until the Scheduler lets the request run (loading or evicting as needed), or fails.
    /// Cancelling the caller withdraws the request.
    /// `exact` (explicit loads and swaps): never answered with the model's fallback.
    /// `waitLimit`: how long it may wait before it fails with `QueueTimeout` (the timer is
    /// armed only when it does not run at once).
    func admit(_ model: String, requestClass: JobClass = .interactive, exact: Bool = false,
               source: RequestSource = .socket,
               waitLimit: (Duration, DaemonSetting)? = nil) async throws -> Admission {
        let backend = modelBackend(model)
        if let warning = trust.warning(backend, url: backends[backend].url) { throw BackendUntrusted(message: warning) }
        let id = residency.nextRequestID
        residency.nextRequestID += 1
        residency.pending[id] = (model, .now, source, requestClass)
        admissions.create(id)
        apply(.requested(id, model: model, requestClass: requestClass, exact: exact))
        if let (limit, setting) = waitLimit, residency.pending[id] != nil {
            let deadline = ContinuousClock.now + limit
            residency.waitLimits[id] = (deadline, limit, setting)
            work.yield(.wake(deadline))
        }
        let admissions = self.admissions
        let work = self.work
        let admission = try await withTaskCancellationHandler {
            try await admissions.wait(id)
        } onCancel: {
            if admissions.abandon(id) { work.yield(.cancelled(id)) }
        }
        return admission
    }

    /// The request is done (finished, failed or cancelled): its model may go idle.
    func finish(_ admission: Admission) {
        residency.lastUsed[admission.model] = Date()
        residency.running[admission.id] = nil
        apply(.finished(admission.id))
        // What `gpuctl trace record` keeps: when it came, what it needed, how long it ran.
        let ran = ContinuousClock.now - admission.startedAt
        let arrivedAt = Date().addingTimeInterval(-Self.seconds(ran + admission.waited))
        events.publish(DaemonEvent(.traceArrival, model: admission.model, arrival: .init(
            at: arrivedAt.timeIntervalSince1970, model: admission.model, requestClass: admission.requestClass,
            client: admission.source.rawValue, serviceSeconds: Self.seconds(ran))))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func cancelWaiting(_ id: Scheduler.RequestID) {
        residency.pending[id] = nil
        residency.waitLimits[id] = nil
        apply(.cancelled(id))
    }

    /// Time passed: requests past their wait limit give up, then the Scheduler looks again.
    func tick() {
        let now = ContinuousClock.now
        for (id, limit) in residency.waitLimits where limit.deadline <= now {
            residency.waitLimits[id] = nil
            guard let request = residency.pending.removeValue(forKey: id) else { continue }
            admissions.resolve(id, .failure(QueueTimeout(model: request.requested, limit: limit.limit, setting: limit.setting)))
            apply(.cancelled(id))
        }
        apply(.tick)
    }

    /// The keep_alive a request for `model` carries (an override set by models.load, else the
    /// catalog's, else the one planned from its use), read from the published snapshot without
    /// entering the actor. None when
    /// Ollama keeps the model forever (another client pinned it): a request without keep_alive
    /// leaves Ollama's duration as it is, where the catalog's would undo the pin.
    nonisolated func requestKeepAlive(for model: String) -> JSONValue? {
        let snapshot = published.current
        if snapshot.lastRunning[model]?.keptForever() == true { return nil }
        return (snapshot.keepAliveOverrides[model] ?? catalog.model(named: model)?.keepAlive ?? snapshot.keepAliveHints[model])?.ollamaValue
    }

    /// Whether the Scheduler keeps `model` resident whatever else asks for room.
    func isPinned(_ model: String) -> Bool { residency.scheduler.policy(model)?.pinned ?? false }

    /// A model is pinned when the catalog says so, when models.load asked for it forever, or
    /// while Ollama keeps it forever for someone else: gpuctld never evicts a pin it did not set.
    func refreshPins() {
        for model in residency.lastRunning.keys { updatePin(model) }
        for model in residency.keepAliveOverrides.keys { updatePin(model) }
        for model in residency.externallyPinned where residency.lastRunning[model] == nil { updatePin(model) }
    }

    private func updatePin(_ model: String) {
        guard var policy = residency.scheduler.policy(model) else { return }
        let forever = residency.lastRunning[model]?.keptForever() == true
        if forever { residency.externallyPinned.insert(model) } else { residency.externallyPinned.remove(model) }
        let pinned = catalog.model(named: model)?.pinned == true || residency.keepAliveOverrides[model] == .forever || forever
        guard policy.pinned != pinned else { return }
        policy.pinned = pinned
        apply(.policyChanged(model: model, policy))
    }

    /// What the ledger charges `model` now (0 when it holds nothing).
    func chargedBytes(_ model: String) -> UInt64 {
        residency.scheduler.resident(model)?.bytes ?? 0
    }

    func loadPlan(for model: String) -> LoadPlan {
        let spec = catalog.model(named: model)
        let keepAlive = residency.keepAliveOverrides[model] ?? spec?.keepAlive ?? residency.keepAliveHints[model]
        return LoadPlan(keepAlive: keepAlive?.ollamaValue, options: spec?.options ?? [:],
                        embeddingOnly: residency.embeddingOnly[model])
    }

    func remember(embeddingOnly: Bool, for model: String) { residency.embeddingOnly[model] = embeddingOnly }

    /// Saves a measured size as the model's learned footprint (off the actor, by the worker).
    nonisolated func saveFootprint(_ subject: String, bytes: UInt64) {
        do {
            _ = try store.recordFootprint(subject: subject, bytes: bytes)
        } catch {
            logger.error("could not record the footprint of \(subject): \(error.message)")
        }
    }

    /// A load ended. Its measured size becomes the model's learned footprint.
    func loadFinished(_ model: String, result: Result<RunningModel, Error>, duration: Duration) {
        residency.epoch += 1
        switch result {
        case .success(let running):
            residency.lastLoad[model] = (.now, duration)
            residency.lastRunning[model] = running
            residency.measuredAtLoad[model] = max(residency.measuredAtLoad[model] ?? 0, running.sizeVRAM)
            work.yield(.recordFootprint(subject: Self.footprintSubject(model), bytes: running.sizeVRAM))
            if var policy = residency.scheduler.policy(model), running.sizeVRAM > policy.footprint {
                policy.footprint = running.sizeVRAM
                apply(.policyChanged(model: model, policy))
            }
            metrics.modelLoad(model, succeeded: true, duration: duration)
            apply(.loaded(model: model, bytes: running.sizeVRAM))
        case .failure(let error):
            residency.lastLoadError[model] = error
            metrics.modelLoad(model, succeeded: false, duration: duration)
            events.publish(DaemonEvent(.modelLoadFailed, model: model, error: RPCErrorPayload(error).message))
            apply(.loadFailed(model: model, reason: "\(error)"))
        }
    }

    func unloadFinished(_ model: String, confirmed: Bool) {
        residency.epoch += 1
        if confirmed {
            residency.lastRunning[model] = nil
            residency.keepAliveOverrides[model] = nil
            refreshPins()
        }
        apply(confirmed ? .unloaded(model: model) : .unloadFailed(model: model))
        if !confirmed { resolveUnloadWaiters(failed: model) }
    }

    /// One /api/ps answer. Dropped when a load or unload started or ended since it was asked
    /// for (it may predate them) or while one is under way.
    func observe(running: [RunningModel], of backend: Backend = .ollama, epoch: Int) {
        guard epoch == residency.epoch, !residency.scheduler.isChanging else { return }
        var held: [String: UInt64] = [:]
        var entries: [String: RunningModel] = [:]
        // What the other backends that load models by name hold stays as they last said.
        for (name, entry) in residency.lastRunning where modelBackend(name) != backend {
            held[name] = entry.sizeVRAM
            entries[name] = entry
        }
        for model in running {
            let key = schedulerKey(for: model.name) ?? model.name
            if residency.scheduler.policy(key) == nil {
                // Loaded behind gpuctld's back and unknown to it: charged what it holds.
                apply(.policyChanged(model: key, .init(footprint: model.sizeVRAM)))
            }
            held[key] = model.sizeVRAM
            entries[key] = model
        }
        residency.lastRunning = entries
        apply(.observed(held))
        refreshPins()
    }

    var residencyEpoch: Int { residency.epoch }

    /// Asks for `model` to be unloaded and waits until /api/ps no longer lists it. Returns false
    /// when it was not resident, throws when Ollama would not let it go.
    func unload(_ model: String) async throws -> Bool {
        guard residency.scheduler.resident(model) != nil else { return false }
        apply(.unloadRequested(model: model))
        let gone = await withCheckedContinuation { continuation in
            if residency.scheduler.resident(model) == nil {
                continuation.resume(returning: true)
            } else {
                residency.unloadWaiters[model, default: []].append(continuation)
            }
        }
        guard gone else {
            throw ModelError.stillResident(model)
        }
        return true
    }

    func setKeepAlive(_ keepAlive: KeepAlive, for model: String) {
        residency.keepAliveOverrides[model] = keepAlive
        refreshPins()
        publish()
    }

    /// Feeds the Scheduler and carries out what it decides.
    func apply(_ event: Scheduler.Event) {
        let before = modelsOnCard
        let actions = residency.scheduler.handle(event, now: .now)
        if case .requested(_, let model, _, _) = event { planKeepAlive(for: model) }
        announceResidencyChanges(since: before)
        for action in actions { execute(action) }
        resolveUnloadWaiters(failed: nil)
        publish()
    }

    /// The keep_alive that bridges the pauses in `model`'s use (KeepAlivePlan), once a second
    /// request has shown one; Ollama's default before.
    private func planKeepAlive(for model: String) {
        let gap = residency.scheduler.forecast.longestRecentGap(of: .model(model))
        guard let planned = KeepAlivePlan.duration(longestRecentGap: gap) else { return }
        residency.keepAliveHints[model] = .seconds(Double(planned.components.seconds))
    }

    /// Ollama models on the card now (loaded, or loaded and being unloaded), and their bytes.
    private var modelsOnCard: [String: UInt64] {
        var models: [String: UInt64] = [:]
        for (holder, resident) in residency.scheduler.residents where resident.phase != .loading {
            if let name = holder.model { models[name] = resident.bytes }
        }
        return models
    }

    /// Tells subscribers which models arrived on the card and which left it, however that
    /// happened: our load or unload, or Ollama's own (keep_alive expiry, someone else's load).
    private func announceResidencyChanges(since before: [String: UInt64]) {
        let after = modelsOnCard
        guard after.count != before.count || after.keys.contains(where: { before[$0] == nil }) else { return }
        for (model, bytes) in after where before[model] == nil {
            events.publish(DaemonEvent(.modelLoaded, model: model, bytes: ByteSize(bytes: bytes)))
        }
        for model in before.keys where after[model] == nil {
            metrics.modelUnloaded(model)
            events.publish(DaemonEvent(.modelUnloaded, model: model))
        }
    }

    private func execute(_ action: Scheduler.Action) {
        switch action {
        case .load(let model):
            residency.epoch += 1
            residency.loadStarted[model] = .now
            work.yield(.load(model))
        case .free(let backend):
            if backend == .comfyui { jobs.comfyEpoch += 1 }
            work.yield(.free(backend))
        case .unload(let model):
            residency.epoch += 1
            work.yield(.unload(model))
        case .wake(let instant):
            work.yield(.wake(instant))
        case .runJob(let id, on: _):
            jobAdmitted(id)
        case .fail(let id, let failure) where jobs.jobOf[id] != nil:
            jobRefused(id, failure)
        case .run(let id, let model):
            residency.waitLimits[id] = nil
            guard let request = residency.pending.removeValue(forKey: id) else {
                apply(.finished(id))
                return
            }
            let loadTime = residency.lastLoad[model].flatMap { $0.finishedAt >= request.since ? $0.duration : nil }
            let admission = Admission(id: id, model: model, requested: request.requested,
                                      waited: .now - request.since, loadTime: loadTime, requestClass: request.requestClass,
                                      source: request.source)
            // Counted by source before this change is published; `finish` removes it.
            residency.running[id] = (model, request.source)
            // The caller left meanwhile: give the run back at once.
            if !admissions.resolve(id, .success(admission)) {
                residency.running[id] = nil
                apply(.finished(id))
            }
        case .fail(let id, let failure):
            var refusal = refusal(for: failure)
            residency.waitLimits[id] = nil
            refusal.fallbackFor = residency.pending.removeValue(forKey: id)?.requested
            admissions.resolve(id, .failure(refusal))
        }
    }

    private func resolveUnloadWaiters(failed: String?) {
        for (model, waiters) in residency.unloadWaiters {
            let gone = residency.scheduler.resident(model) == nil
            guard gone || model == failed else { continue }
            residency.unloadWaiters[model] = nil
            for waiter in waiters { waiter.resume(returning: gone) }
        }
    }

    /// The Scheduler's refusal with the budget's numbers and, for a failed load, its cause.
    func refusal(for failure: Scheduler.Failure) -> SchedulerRefusal {
        var refusal = SchedulerRefusal(failure: failure, budget: budget)
        if case .loadFailed(let model, _) = failure { refusal.loadError = residency.lastLoadError[model] }
        return refusal
    }
}
