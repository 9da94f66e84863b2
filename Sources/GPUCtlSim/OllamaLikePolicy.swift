import GPUCtlCore
import GPUCtlModels

/// Ollama's own scheduler beside a ComfyUI nobody arbitrates. Ollama serves requests for a
/// loaded model at once and loads one model at a time for the oldest other request: when it
/// does not fit in what the card has free (Ollama sees ComfyUI's use, as it reads free VRAM),
/// it evicts idle LLMs, least recently used first, and waits for busy ones; idle LLMs leave
/// after keep_alive (5 minutes). ComfyUI runs its queue in turn whatever the card holds, and
/// never frees its cache.
public struct OllamaLikePolicy: ArbitrationPolicy {
    public let name = PolicyKind.ollamaLike.rawValue
    static let keepAlive: Duration = .seconds(300)

    struct Loaded {
        var bytes: UInt64
        var inFlight = 0
        var lastUsed: ContinuousClock.Instant
        var ready = false
    }

    private let card: UInt64
    private let sizes: [String: UInt64]
    private var loaded: [String: Loaded] = [:]
    private var pending = ModelLine()
    private var jobs = FIFOLine()
    private var comfyBusy = false
    private var comfyHeld: UInt64 = 0
    private var jobIDs: Set<Scheduler.RequestID> = []
    private var running: [Scheduler.RequestID: String] = [:]
    private var changing = false

    public init(header: Trace.Header, card: UInt64) {
        self.card = card
        sizes = Dictionary(header.models.map { ($0.name, $0.bytes.bytes) }, uniquingKeysWith: { first, _ in first })
    }

    public mutating func handle(_ event: Scheduler.Event, now: ContinuousClock.Instant) -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        switch event {
        case .requested(let id, let model, _, _): pending.append(id, model: model)
        case .jobRequested(let id, _, _, let resumed):
            jobIDs.insert(id)
            jobs.append(.init(id: id, target: .backend(.comfyui)), first: resumed)
        case .finished(let id):
            if jobIDs.remove(id) != nil {
                comfyBusy = false
            } else if let model = running.removeValue(forKey: id) {
                loaded[model]?.inFlight -= 1
                loaded[model]?.lastUsed = now
                actions.append(.wake(at: now + Self.keepAlive))
            }
        case .loaded(let model, _):
            loaded[model]?.ready = true
            changing = false
        case .loadFailed(let model, let reason):
            loaded[model] = nil
            changing = false
            actions = pending.takeAll(for: model).map { .fail($0, .loadFailed(model: model, reason: reason)) }
        case .unloaded(let model):
            loaded[model] = nil
            changing = false
        case .backendObserved(.comfyui, let bytes): comfyHeld = bytes
        default: break
        }
        return actions + expire(now: now) + next(now: now)
    }

    /// keep_alive: idle models whose time is up leave.
    private mutating func expire(now: ContinuousClock.Instant) -> [Scheduler.Action] {
        guard !changing else { return [] }
        let expired = loaded.filter { $0.value.ready && $0.value.inFlight == 0 && now - $0.value.lastUsed >= Self.keepAlive }
        guard let model = expired.keys.min() else { return [] }
        loaded[model]?.ready = false
        changing = true
        return [.unload(model: model)]
    }

    private mutating func next(now: ContinuousClock.Instant) -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        if !comfyBusy, let job = jobs.first {
            jobs.removeFirst()
            comfyBusy = true
            actions.append(.runJob(job.id, on: .comfyui))
        }
        // Every request for a ready model goes to its runner.
        for (model, state) in loaded where state.ready && pending.hasWaiting(for: model) {
            for id in pending.takeAll(for: model) {
                loaded[model]?.inFlight += 1
                running[id] = model
                actions.append(.run(id, model: model))
            }
            loaded[model]?.lastUsed = now
        }
        guard !changing, let (_, model) = pending.first(), loaded[model] == nil,
              let bytes = sizes[model] else { return actions }
        let ollamaHeld = loaded.values.map(\.bytes).reduce(0, +)
        let free = card - min(card, ollamaHeld + comfyHeld)
        if bytes <= free || loaded.isEmpty {
            // Nothing of Ollama's left to evict: it tries anyway.
            loaded[model] = Loaded(bytes: bytes, lastUsed: now)
            changing = true
            return actions + [.load(model: model)]
        }
        let idle = loaded.filter { $0.value.ready && $0.value.inFlight == 0 }
        if let victim = idle.min(by: { ($0.value.lastUsed, $0.key) < ($1.value.lastUsed, $1.key) })?.key {
            loaded[victim]?.ready = false
            changing = true
            actions.append(.unload(model: victim))
        }
        return actions
    }
}
