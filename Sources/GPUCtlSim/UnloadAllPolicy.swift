import GPUCtlCore
import GPUCtlModels

/// The naive broker: strictly first come, first served, and whenever the next request needs
/// something other than what is on the card, wait for the work in flight, unload every model,
/// free ComfyUI's cache, then load what it needs.
public struct UnloadAllPolicy: ArbitrationPolicy {
    public let name = PolicyKind.unloadAll.rawValue

    enum Phase: Equatable {
        /// Serving requests for `current` (nil: nothing loaded).
        case ready(current: Holder?)
        /// Waiting for every unload and free to be answered.
        case emptying
        case loading
    }

    private var line = FIFOLine()
    /// What the card holds.
    private var onCard: Set<Holder> = []
    private var phase = Phase.ready(current: nil)
    private var inFlight = 0

    public init(card: UInt64) {}

    public mutating func handle(_ event: Scheduler.Event, now: ContinuousClock.Instant) -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        switch event {
        case .requested(let id, let model, _, _): line.append(.init(id: id, target: .model(model)))
        case .jobRequested(let id, _, _, let resumed): line.append(.init(id: id, target: .backend(Scheduler.jobBackend)), first: resumed)
        case .finished: inFlight -= 1
        case .loaded(let model, _): phase = .ready(current: .model(model))
        case .loadFailed(let model, let reason):
            phase = .ready(current: nil)
            onCard.remove(.model(model))
            actions = line.removeAll(for: .model(model)).map { .fail($0.id, .loadFailed(model: model, reason: reason)) }
        case .unloaded(let model): onCard.remove(.model(model))
        case .freed(let backend): onCard.remove(.backend(backend))
        case .freeFailed: phase = .ready(current: nil)
        case .backendObserved(let backend, let bytes):
            if bytes > 0 { onCard.insert(.backend(backend)) } else { onCard.remove(.backend(backend)) }
        default: break
        }
        return actions + next()
    }

    private mutating func next() -> [Scheduler.Action] {
        var actions: [Scheduler.Action] = []
        while let item = line.first {
            switch phase {
            case .loading:
                return actions
            case .emptying:
                guard onCard.isEmpty else { return actions }
                phase = .ready(current: nil)
            case .ready(let current) where current == item.target:
                line.removeFirst()
                inFlight += 1
                actions.append(item.target.model.map { .run(item.id, model: $0) } ?? .runJob(item.id, on: Scheduler.jobBackend))
            case .ready:
                guard inFlight == 0 else { return actions }
                if !onCard.isEmpty {
                    phase = .emptying
                    return actions + onCard.sorted { $0.description < $1.description }.map(Self.evict)
                }
                if let model = item.target.model {
                    onCard.insert(item.target)
                    phase = .loading
                    return actions + [.load(model: model)]
                }
                phase = .ready(current: item.target)
            }
        }
        return actions
    }

    static func evict(_ holder: Holder) -> Scheduler.Action {
        switch holder {
        case .model(let model): .unload(model: model)
        case .backend(let backend): .free(backend)
        }
    }
}
