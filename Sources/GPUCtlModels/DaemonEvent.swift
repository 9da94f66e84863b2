import Foundation

/// One state change, as `events.subscribe` streams it: `{"type": …, "time": …, …}` with only
/// the fields its type uses.
public struct DaemonEvent: Codable, Sendable, Equatable {
    /// What changed.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The first event of every subscription: it is live from here on.
        case subscribed
        /// An Ollama model became resident (`model`, `bytes`) or left the card (`model`).
        case modelLoaded = "model.loaded"
        case modelUnloaded = "model.unloaded"
        /// A load failed (`model`, `error`).
        case modelLoadFailed = "model.load_failed"
        /// A ComfyUI job changed state (`job`, `state`, `error` when it failed).
        case jobState = "job.state"
        /// A running job moved on (`job`, `progress`), at most every 100 ms per job.
        case jobProgress = "job.progress"
        /// The budget changed (`budget`): a GPU sample, foreign use.
        case budget
        /// A backend came up or went down (`backend`, `state`, `error`).
        case backend
        /// A request's or a job's work ended (`arrival`: what arrived when, and how long it
        /// ran, with no prompt text): what `gpuctl trace record` writes.
        case traceArrival = "trace.arrival"
    }

    public var type: Kind
    /// When it happened, ISO 8601 UTC with milliseconds.
    public var time: String
    public var model: String?
    public var bytes: ByteSize?
    public var job: String?
    public var state: String?
    public var progress: JobProgress?
    public var budget: BudgetStatus?
    public var backend: String?
    public var error: String?
    public var arrival: Trace.Arrival?
    /// A pipeline step that started or ended (`job.progress` of a pipeline run).
    public var step: PipelineStepInfo?

    public init(_ type: Kind, time: Date = Date(), model: String? = nil, bytes: ByteSize? = nil, job: String? = nil,
                state: String? = nil, progress: JobProgress? = nil, budget: BudgetStatus? = nil, backend: String? = nil,
                error: String? = nil, arrival: Trace.Arrival? = nil, step: PipelineStepInfo? = nil) {
        self.type = type
        self.time = DaemonEvent.timestamp(time)
        self.model = model
        self.bytes = bytes
        self.job = job
        self.state = state
        self.progress = progress
        self.budget = budget
        self.backend = backend
        self.error = error
        self.arrival = arrival
        self.step = step
    }

    /// Whether a subscriber's filter takes this event: a filter names types (`job.state`) or
    /// their group (`job` takes `job.state` and `job.progress`). An empty filter takes all.
    public func matches(_ filter: Set<String>) -> Bool {
        guard !filter.isEmpty, type != .subscribed else { return true }
        if filter.contains(type.rawValue) { return true }
        let group = type.rawValue.split(separator: ".").first.map(String.init) ?? type.rawValue
        return filter.contains(group)
    }

    /// The names a filter may use: every type and every group.
    public static var filterNames: [String] {
        let types = Kind.allCases.filter { $0 != .subscribed }.map(\.rawValue)
        let groups = Set(types.compactMap { $0.contains(".") ? String($0.split(separator: ".")[0]) : nil })
        return (groups.sorted() + types).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// `metrics`' result: the Prometheus text exposition, as `/metrics` serves it.
public struct MetricsResult: Codable, Sendable, Equatable {
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
    public var contentType: String
    public var text: String

    public init(text: String, contentType: String = MetricsResult.prometheusContentType) {
        self.contentType = contentType
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case contentType = "content_type"
        case text
    }
}
