import GPUCtlCore
import GPUCtlModels

/// gpuctld's own decisions: the real Scheduler, with what the daemon adds around it for jobs
/// (learned peaks through `JobPeakMeter`, one retry after out of memory through `OutOfMemory`).
public struct GPUCtlPolicy: ArbitrationPolicy {
    public struct Options: Sendable {
        public var evictionOrder: Scheduler.EvictionOrder
        public var learnsPeaks: Bool
        public var retriesOutOfMemory: Bool
        /// Charges a workflow never seen running its estimate plus JobCharge's headroom.
        public var headroom = true
        public var keepAlive = KeepAlive.fromForecast
        public var foresight = false

        /// What the requests' keep_alive is.
        public enum KeepAlive: Sendable {
            /// KeepAlivePlan from the next-use estimate (Ollama's default before one is known).
            case fromForecast
            /// None sent: Ollama's 5 minutes.
            case ollamaDefault
            /// Kept until evicted (the offline bound).
            case never
        }

        public static let shipped = Options(evictionOrder: .furthestNextUse, learnsPeaks: true, retriesOutOfMemory: true)
        public static let before = Options(evictionOrder: .leastRecentlyUsed, learnsPeaks: false, retriesOutOfMemory: false, headroom: false,
                                           keepAlive: .ollamaDefault)
        public static let oracle = Options(evictionOrder: .furthestNextUse, learnsPeaks: true, retriesOutOfMemory: true, keepAlive: .never,
                                           foresight: true)
    }

    public let name: String
    private var scheduler: Scheduler
    private let options: Options
    private var meter = JobPeakMeter()
    private var learned: [String: UInt64] = [:]

    public init(name: String, header: Trace.Header, card: UInt64, options: Options) {
        self.name = name
        self.options = options
        var policies: [String: Scheduler.ModelPolicy] = [:]
        for model in header.models { policies[model.name] = .init(footprint: model.bytes.bytes) }
        scheduler = Scheduler(budget: card, policies: policies)
        scheduler.evictionOrder = options.evictionOrder
    }

    public mutating func handle(_ event: Scheduler.Event, now: ContinuousClock.Instant) -> [Scheduler.Action] {
        scheduler.handle(event, now: now)
    }

    /// The daemon's rule (JobCharge); before, the catalog's checkpoints alone.
    public func charge(for workflow: Trace.Workflow) -> UInt64 {
        let estimate = workflow.checkpointBytes.bytes
        guard options.learnsPeaks else { return options.headroom ? JobCharge.bytes(estimate: estimate, learned: nil) : estimate }
        return JobCharge.bytes(estimate: estimate, learned: learned[workflow.name], headroom: options.headroom ? JobCharge.defaultHeadroom : 0)
    }

    public mutating func comfyObserved(_ bytes: UInt64, running workflow: String?) {
        meter.observed(bytes)
        if bytes == 0 { meter.freed() }
    }

    public mutating func jobStarted(workflow: String) { meter.started(workflow: workflow) }

    public mutating func jobEnded() {
        guard let peak = meter.ended(), options.learnsPeaks else { return }
        learned[peak.workflow] = max(learned[peak.workflow] ?? 0, peak.bytes)
    }

    public mutating func retryCharge(afterOutOfMemoryOf workflow: Trace.Workflow, charged: UInt64, message: String) -> UInt64? {
        guard options.retriesOutOfMemory else { return nil }
        let retry = OutOfMemory.retryCharge(charged: charged, message: message)
        if options.learnsPeaks { learned[workflow.name] = max(learned[workflow.name] ?? 0, retry) }
        return retry
    }

    public func keepAliveSeconds(for model: String) -> Double? {
        let duration: Duration? = switch options.keepAlive {
        case .never: nil
        case .ollamaDefault: KeepAlivePlan.ollamaDefault
        case .fromForecast: KeepAlivePlan.duration(longestRecentGap: scheduler.forecast.longestRecentGap(of: .model(model))) ?? KeepAlivePlan.ollamaDefault
        }
        return duration.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
    }

    public var wantsForesight: Bool { options.foresight }

    public mutating func foresee(_ nextUse: [Holder: ContinuousClock.Instant]) { scheduler.forecast.given = nextUse }
}
