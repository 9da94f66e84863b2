import Foundation
import GPUCtlCore
import GPUCtlModels

/// The physical side of a simulated box: how big the card is and how fast things move.
public struct CardSettings: Sendable, Equatable {
    public var cardBytes: UInt64
    /// Disk to VRAM, bytes per second (model and checkpoint loads).
    public var bandwidth: Double
    /// Fixed cost of every load (process start, graph setup), seconds.
    public var loadOverhead: Double
    public var unloadSeconds: Double
    public var freeSeconds: Double

    public init(cardBytes: UInt64, bandwidth: Double = 2 * 1_073_741_824, loadOverhead: Double = 0.5,
                unloadSeconds: Double = 0.2, freeSeconds: Double = 0.3) {
        self.cardBytes = cardBytes
        self.bandwidth = bandwidth
        self.loadOverhead = loadOverhead
        self.unloadSeconds = unloadSeconds
        self.freeSeconds = freeSeconds
    }

    func loadSeconds(_ bytes: UInt64) -> Double { loadOverhead + Double(bytes) / bandwidth }
}

/// Replays a trace on a simulated card under one policy: arrivals become the policy's events,
/// its actions take the time the card says (loads from size and bandwidth, generation from
/// token rates, jobs from steps), and the card's real contents are kept apart from what the
/// policy believes, so a policy that misjudges runs the card out of memory.
public enum Simulation {
    public static func run(_ trace: TraceFile, policy: any ArbitrationPolicy, card: CardSettings) -> SimulationResult {
        let clock = ContinuousClock()
        let began = clock.now
        var world = SimulatedWorld(trace: trace, policy: policy, card: card)
        world.run()
        return world.result(replaySeconds: SimulatedWorld.seconds(clock.now - began))
    }

    /// Every policy in `kinds` on the same trace and card.
    public static func compare(_ trace: TraceFile, kinds: [PolicyKind], card: CardSettings) -> [SimulationResult] {
        kinds.map { run(trace, policy: $0.make(header: trace.header, card: card.cardBytes), card: card) }
    }
}

/// What happens in the world, in time order.
enum Happening {
    case arrival(Int)
    case loadDone(model: String, ok: Bool)
    case unloadDone(model: String)
    case freeDone
    case generationDone(model: String, id: Scheduler.RequestID)
    case jobDone(id: Scheduler.RequestID, outOfMemory: String?)
    /// Ollama's keep_alive timer for a model ran out (`use`: the use it was set after).
    case expire(model: String, use: Int)
    case tick
}

/// A request as the world knows it: which arrival, and for a job what it was charged.
struct SimRequest {
    var arrival: Int
    var arrivedAt: Double
    var requestClass: JobClass
    var charged: UInt64 = 0
    var retried = false
    var startedAt: Double?
}

struct SimulatedWorld {
    let trace: TraceFile
    var policy: any ArbitrationPolicy
    let card: CardSettings
    let origin = ContinuousClock.now
    let models: [String: Trace.Model]
    let workflows: [String: Trace.Workflow]
    var agenda = Agenda<Happening>()
    var now = 0.0
    var nextID: Scheduler.RequestID = 1
    var requests: [Scheduler.RequestID: SimRequest] = [:]
    var ticksAt: Set<Double> = []

    // The card as it really is.
    var ollama: [String: UInt64] = [:]
    var ready: Set<String> = []
    var busyUntil: [String: Double] = [:]
    /// Counts each model's requests, so only the timer set after the last one unloads it.
    var uses: [String: Int] = [:]
    var comfyCache: (checkpoints: [String], bytes: UInt64)?
    var comfyJob: (id: Scheduler.RequestID, workflow: String)?
    var comfyQueue: [Scheduler.RequestID] = []
    var activation: UInt64 = 0

    // The future, for a policy that is told it: arrival indexes per holder.
    var arrivalsOf: [Holder: [Int]] = [:]
    var cursor: [Holder: Int] = [:]
    var arrived = 0

    // What is measured.
    var served = 0, failed = 0, outOfMemory = 0, loads = 0, contradictions = 0
    var bytesLoaded: UInt64 = 0
    var loadSeconds = 0.0
    var waits: [JobClass: [Double]] = [:]
    var makespan = 0.0
    var peakBytes: UInt64 = 0
    var segments: [SimulationResult.Segment] = []
    var open: [String: (start: Double, bytes: UInt64)] = [:]
    var outOfMemoryAt: [Double] = []
    var contradictionNotes: [String] = []

    init(trace: TraceFile, policy: any ArbitrationPolicy, card: CardSettings) {
        self.trace = trace
        self.policy = policy
        self.card = card
        models = Dictionary(trace.header.models.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        workflows = Dictionary(trace.header.workflows.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if policy.wantsForesight {
            for (index, arrival) in trace.arrivals.enumerated() { arrivalsOf[Self.holder(of: arrival), default: []].append(index) }
        }
        for index in trace.arrivals.indices { agenda.add(.arrival(index), at: trace.arrivals[index].at) }
    }

    static func holder(of arrival: Trace.Arrival) -> Holder {
        arrival.model.map(Holder.model) ?? .backend(Scheduler.jobBackend)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    func instant(_ time: Double) -> ContinuousClock.Instant { origin + .seconds(time) }

    mutating func run() {
        feed(.backendAvailable(.comfyui, true))
        while let (time, happening) = agenda.next() {
            now = time
            happen(happening)
        }
        for (holder, segment) in open where now > segment.start {
            segments.append(.init(holder: holder, start: segment.start, end: max(now, makespan), bytes: segment.bytes))
        }
        open = [:]
    }

    var usedBytes: UInt64 {
        ollama.values.reduce(0, +) + (comfyCache?.bytes ?? 0) + activation
    }

    /// Records what `holder` holds from now on, for the timeline and the peak.
    mutating func hold(_ holder: String, _ bytes: UInt64) {
        if let current = open[holder] {
            if current.bytes == bytes { return }
            if now > current.start { segments.append(.init(holder: holder, start: current.start, end: now, bytes: current.bytes)) }
        }
        open[holder] = bytes > 0 ? (now, bytes) : nil
        peakBytes = max(peakBytes, usedBytes)
    }

    mutating func feed(_ event: Scheduler.Event) {
        if policy.wantsForesight { policy.foresee(foresight()) }
        for action in policy.handle(event, now: instant(now)) { act(action) }
    }

    /// When each holder is next asked for, from the arrivals still to come.
    mutating func foresight() -> [Holder: ContinuousClock.Instant] {
        var next: [Holder: ContinuousClock.Instant] = [:]
        for (holder, indexes) in arrivalsOf {
            var position = cursor[holder] ?? 0
            while position < indexes.count, indexes[position] < arrived { position += 1 }
            cursor[holder] = position
            if position < indexes.count { next[holder] = instant(trace.arrivals[indexes[position]].at) }
        }
        return next
    }

    func result(replaySeconds: Double) -> SimulationResult {
        SimulationResult(
            policy: policy.name, trace: trace.header.trace, cardBytes: card.cardBytes, arrivals: trace.arrivals.count,
            served: served, failed: failed, outOfMemory: outOfMemory, loads: loads, bytesLoaded: bytesLoaded,
            loadSeconds: loadSeconds, interactive: .init(waits[.interactive] ?? []), batch: .init(waits[.batch] ?? []),
            makespan: makespan, longestWait: max((waits[.interactive] ?? []).max() ?? 0, (waits[.batch] ?? []).max() ?? 0),
            peakBytes: peakBytes, contradictions: contradictions, contradictionNotes: contradictionNotes, replaySeconds: replaySeconds,
            timeline: segments.sorted { ($0.start, $0.holder) < ($1.start, $1.holder) }, outOfMemoryAt: outOfMemoryAt)
    }
}
