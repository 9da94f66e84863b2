import GPUCtlCore
import GPUCtlModels

/// A way of deciding who holds the card, in the Scheduler's own vocabulary: events in, actions
/// out. gpuctl's policy is the real Scheduler; the baselines answer the same events their way,
/// so one simulated card replays a trace under each of them alike.
public protocol ArbitrationPolicy {
    /// The name in the comparison table.
    var name: String { get }
    mutating func handle(_ event: Scheduler.Event, now: ContinuousClock.Instant) -> [Scheduler.Action]
    /// What a job of `workflow` is charged when it arrives (what the daemon would charge).
    func charge(for workflow: Trace.Workflow) -> UInt64
    /// ComfyUI was seen holding `bytes` (its /system_stats); `job` is the workflow running, if any.
    mutating func comfyObserved(_ bytes: UInt64, running workflow: String?)
    /// A job of `workflow` began or ended on ComfyUI.
    mutating func jobStarted(workflow: String)
    mutating func jobEnded()
    /// A job charged `charged` ran out of memory with `message`: the charge of its one retry,
    /// or nil when it fails for good.
    mutating func retryCharge(afterOutOfMemoryOf workflow: Trace.Workflow, charged: UInt64, message: String) -> UInt64?
    /// The keep_alive its requests for `model` carry, in seconds: Ollama unloads the model that
    /// long after its last request ends. nil: kept until the policy unloads it.
    func keepAliveSeconds(for model: String) -> Double?
    /// Whether it is told the future (Belady's offline bound): then `foresee` comes before each event.
    var wantsForesight: Bool { get }
    mutating func foresee(_ nextUse: [Holder: ContinuousClock.Instant])
}

extension ArbitrationPolicy {
    public func charge(for workflow: Trace.Workflow) -> UInt64 { workflow.checkpointBytes.bytes }
    public mutating func comfyObserved(_ bytes: UInt64, running workflow: String?) {}
    public mutating func jobStarted(workflow: String) {}
    public mutating func jobEnded() {}
    public mutating func retryCharge(afterOutOfMemoryOf workflow: Trace.Workflow, charged: UInt64, message: String) -> UInt64? { nil }
    public func keepAliveSeconds(for model: String) -> Double? { nil }
    public var wantsForesight: Bool { false }
    public mutating func foresee(_ nextUse: [Holder: ContinuousClock.Instant]) {}
}

/// The policies `gpuctl-sim` knows, by the names its `--policies` option takes.
public enum PolicyKind: String, CaseIterable, Sendable {
    /// The daemon's Scheduler as it ships: next-use evictions, learned job peaks, OOM retry.
    case gpuctl
    /// The Scheduler before this comparison: least-recently-used evictions, jobs charged by the
    /// catalog, no retry after out of memory.
    case gpuctlBefore = "gpuctl-before"
    /// Ablations: the shipped Scheduler less one change each.
    case gpuctlLRU = "gpuctl-lru"
    case gpuctlNoHeadroom = "gpuctl-no-headroom"
    case gpuctlFixedKeepAlive = "gpuctl-fixed-keepalive"
    case gpuctlNoExpiry = "gpuctl-no-expiry"
    /// Unload everything (models and ComfyUI's cache) whenever the next request needs something else.
    case unloadAll = "unload-all"
    /// Ollama's own scheduler beside a ComfyUI that nobody arbitrates.
    case ollamaLike = "ollama-like"
    /// One LLM at a time, the default one restored when idle (a one-LLM broker).
    case oneLLM = "one-llm"
    /// The Scheduler told the future: evict what is used furthest ahead (Belady's bound).
    case belady

    /// What the table shows by default.
    public static let standard: [PolicyKind] = [.gpuctl, .unloadAll, .ollamaLike, .oneLLM, .belady]

    public func make(header: Trace.Header, card: UInt64) -> any ArbitrationPolicy {
        switch self {
        case .gpuctl: GPUCtlPolicy(name: rawValue, header: header, card: card, options: .shipped)
        case .gpuctlBefore: GPUCtlPolicy(name: rawValue, header: header, card: card, options: .before)
        case .gpuctlLRU:
            GPUCtlPolicy(name: rawValue, header: header, card: card, options: .init(evictionOrder: .leastRecentlyUsed, learnsPeaks: true,
                                                                                   retriesOutOfMemory: true))
        case .gpuctlNoHeadroom:
            GPUCtlPolicy(name: rawValue, header: header, card: card, options: .init(evictionOrder: .furthestNextUse, learnsPeaks: true,
                                                                                   retriesOutOfMemory: true, headroom: false))
        case .gpuctlFixedKeepAlive:
            GPUCtlPolicy(name: rawValue, header: header, card: card, options: .init(evictionOrder: .furthestNextUse, learnsPeaks: true,
                                                                                   retriesOutOfMemory: true, keepAlive: .ollamaDefault))
        case .gpuctlNoExpiry:
            GPUCtlPolicy(name: rawValue, header: header, card: card, options: .init(evictionOrder: .furthestNextUse, learnsPeaks: true,
                                                                                   retriesOutOfMemory: true, keepAlive: .never))
        case .belady: GPUCtlPolicy(name: rawValue, header: header, card: card, options: .oracle)
        case .unloadAll: UnloadAllPolicy(card: card)
        case .ollamaLike: OllamaLikePolicy(header: header, card: card)
        case .oneLLM: OneLLMPolicy(header: header, card: card)
        }
    }

    /// A sentence for the table's legend.
    public var summary: String {
        switch self {
        case .gpuctl: "gpuctld's Scheduler: next-use evictions, keep_alive from the next-use estimate, learned job peaks, one retry after out of memory"
        case .gpuctlBefore: "the Scheduler before issue 14: LRU evictions, Ollama's 5-minute keep_alive, catalog charges, no retry"
        case .gpuctlLRU: "gpuctl with least-recently-used evictions instead of next-use"
        case .gpuctlNoHeadroom: "gpuctl charging a never-seen workflow its catalog estimate alone (learning and retry only)"
        case .gpuctlFixedKeepAlive: "gpuctl leaving Ollama's 5-minute keep_alive as it is"
        case .gpuctlNoExpiry: "gpuctl keeping every model until it is evicted (no keep_alive expiry: what Belady assumes)"
        case .unloadAll: "unload everything on every switch"
        case .ollamaLike: "Ollama's scheduler (evict idle LLMs only when one does not fit, keep_alive 5m), ComfyUI never freed"
        case .oneLLM: "one resident LLM, the default restored after 30 s idle, unloaded for ComfyUI jobs"
        case .belady: "the Scheduler told the future: evicts what is used furthest ahead (offline bound)"
        }
    }
}
