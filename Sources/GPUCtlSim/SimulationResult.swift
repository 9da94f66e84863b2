import GPUCtlModels

/// What one policy did with one trace on one card.
public struct SimulationResult: Sendable, Codable, Equatable {
    /// The wait of the requests of one class: arrival to the start of their work.
    public struct Waits: Sendable, Codable, Equatable {
        public var count: Int
        public var p50: Double
        public var p95: Double
        public var max: Double

        init(_ samples: [Double]) {
            let sorted = samples.sorted()
            count = sorted.count
            p50 = Self.quantile(sorted, 0.50)
            p95 = Self.quantile(sorted, 0.95)
            self.max = sorted.last ?? 0
        }

        /// Nearest rank.
        static func quantile(_ sorted: [Double], _ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]
        }
    }

    /// One stretch of time during which a holder had `bytes` on the card.
    public struct Segment: Sendable, Codable, Equatable {
        public var holder: String
        public var start: Double
        public var end: Double
        public var bytes: UInt64
    }

    public var policy: String
    public var trace: String
    public var cardBytes: UInt64
    public var arrivals: Int
    public var served: Int
    public var failed: Int
    /// Times the card would have run out: a job or a load that did not fit beside the rest.
    public var outOfMemory: Int
    /// Model loads and checkpoint loads, what they moved from disk, and the seconds they took.
    public var loads: Int
    public var bytesLoaded: UInt64
    public var loadSeconds: Double
    public var interactive: Waits
    public var batch: Waits
    /// When the last piece of work ended.
    public var makespan: Double
    /// The longest any request waited.
    public var longestWait: Double
    /// The most the card held at once.
    public var peakBytes: UInt64
    /// Actions the world could not carry out (a request run on a model that is not loaded, two
    /// jobs at once, an unload under a running request): a policy bug, 0 for every shipped policy.
    public var contradictions: Int
    /// The first few of them, with when.
    public var contradictionNotes: [String]
    /// Wall-clock seconds the replay took.
    public var replaySeconds: Double
    /// What held the card, for the timeline; `outOfMemoryAt` marks each out-of-memory event.
    public var timeline: [Segment]
    public var outOfMemoryAt: [Double]
}
