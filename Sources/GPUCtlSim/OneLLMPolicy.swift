import GPUCtlCore
import GPUCtlModels

/// A one-LLM broker: at most one Ollama model on the card. Requests for it pass at once; a
/// request for another model waits for the one in flight, then swaps. A ComfyUI job runs
/// beside the LLM when its charge fits, else the LLM is unloaded for it; ComfyUI's cache is
/// freed only when an LLM does not fit beside it. After 30 s with nothing to do, the default
/// LLM is put back.
public struct OneLLMPolicy: ArbitrationPolicy {
    public let name = PolicyKind.oneLLM.rawValue
    static let restoreAfter: Duration = .seconds(30)

    private let card: UInt64
    private let sizes: [String: UInt64]
    private let defaultModel: String?
    private var llm: String?
    private var llmReady = false
    private var llmInFlight = 0
    private var comfyBusy = false
    private var comfyHeld: UInt64 = 0
    private var changing = false
    private var models = ModelLine()
    private var jobs = FIFOLine()
    private var charges: [Scheduler.RequestID: UInt64] = [:]
    private var lastActivity: ContinuousClock.Instant?

    public init(header: Trace.Header, card: UInt64) {
        self.card = card
        sizes = Dictionary(header.models.map { ($0.name, $0.bytes.bytes) }, uniquingKeysWith: { first, _ in first })
        defaultModel = (header.models.first { $0.isDefault == true } ?? header.models.first)?.name
    }

    public mutating func handle(_ event: Scheduler.Event, now: ContinuousClock.Instant) -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        switch event {
        case .requested(let id, let model, _, _):
            models.append(id, model: model)
            lastActivity = now
        case .jobRequested(let id, let bytes, _, let resumed):
            charges[id] = bytes
            jobs.append(.init(id: id, target: .backend(.comfyui)), first: resumed)
            lastActivity = now
        case .finished(let id):
            if charges.removeValue(forKey: id) != nil { comfyBusy = false } else { llmInFlight -= 1 }
            lastActivity = now
        case .loaded: (llmReady, changing) = (true, false)
        case .loadFailed(let model, let reason):
            (llm, llmReady, changing) = (nil, false, false)
            actions = models.takeAll(for: model).map { .fail($0, .loadFailed(model: model, reason: reason)) }
        case .unloaded: (llm, llmReady, changing) = (nil, false, false)
        case .freed: (comfyHeld, changing) = (0, false)
        case .freeFailed: changing = false
        case .backendObserved(.comfyui, let bytes): comfyHeld = bytes
        default: break
        }
        return actions + next(now: now)
    }

    private mutating func next(now: ContinuousClock.Instant) -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        if let llm, llmReady {
            for id in models.takeAll(for: llm) {
                llmInFlight += 1
                actions.append(.run(id, model: llm))
            }
        }
        guard !changing else { return actions }
        let model = models.first()
        let job = comfyBusy ? nil : jobs.first
        if let job, model.map({ job.id < $0.id }) ?? true {
            let need = charges[job.id] ?? 0
            if let llm, (sizes[llm] ?? 0) + need > card {
                guard llmInFlight == 0 else { return actions }
                changing = true
                return actions + [.unload(model: llm)]
            }
            jobs.removeFirst()
            comfyBusy = true
            return actions + [.runJob(job.id, on: .comfyui)]
        }
        if let (_, wanted) = model { return actions + bring(wanted) }
        // Nothing waits: after a quiet spell, the default comes back.
        guard jobs.isEmpty, llmInFlight == 0, !comfyBusy, let defaultModel, llm != defaultModel,
              let lastActivity else { return actions }
        guard now - lastActivity >= Self.restoreAfter else { return actions + [.wake(at: lastActivity + Self.restoreAfter)] }
        return actions + bring(defaultModel)
    }

    /// One step toward `model` being the LLM on the card: unload the other, free ComfyUI's
    /// cache when it does not fit beside it, then load it.
    private mutating func bring(_ model: String) -> [Scheduler.Action] {
        if let llm {
            guard llm != model, llmInFlight == 0 else { return [] }
            changing = true
            return [.unload(model: llm)]
        }
        let bytes = sizes[model] ?? 0
        if bytes + comfyHeld > card {
            guard !comfyBusy else { return [] }
            if comfyHeld > 0 {
                changing = true
                return [.free(.comfyui)]
            }
        }
        llm = model
        changing = true
        return [.load(model: model)]
    }
}
