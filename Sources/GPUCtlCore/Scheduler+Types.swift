import GPUCtlModels

extension Scheduler {
    /// Identifies one waiting or running request (an inference that needs its model resident).
    public typealias RequestID = UInt64

    /// What the Scheduler knows of a model it may place: from the catalog and the store.
    public struct ModelPolicy: Sendable, Equatable {
        /// max(declared, learned): what admission charges before the model is measured.
        public var footprint: UInt64
        public var priority: Int
        public var pinned: Bool

        public init(footprint: UInt64, priority: Int = ModelSpec.defaultPriority, pinned: Bool = false) {
            self.footprint = footprint
            self.priority = priority
            self.pinned = pinned
        }
    }

    /// Everything that happens, as the Supervisor reports it.
    public enum Event: Sendable, Equatable {
        /// A request needs `model` resident.
        case requested(RequestID, model: String, requestClass: JobClass)
        /// A request that was told to run has ended (success, error or cancel).
        case finished(RequestID)
        /// A waiting request was cancelled before it ran.
        case cancelled(RequestID)
        /// Ollama confirmed the model loaded; `bytes` is its measured size_vram.
        case loaded(model: String, bytes: UInt64)
        case loadFailed(model: String, reason: String)
        /// /api/ps no longer lists the model.
        case unloaded(model: String)
        /// One /api/ps poll: every model Ollama holds and its size_vram (behind gpuctl's back too).
        case observed([String: UInt64])
        /// The budget changed (GPU sample, foreign use, reserve).
        case budgetChanged(UInt64)
    }

    /// What the Supervisor must do, in order.
    public enum Action: Sendable, Equatable {
        case load(model: String)
        case unload(model: String)
        case run(RequestID, model: String)
        case fail(RequestID, Failure)
    }

    /// Why a request was refused: a stable kind and the numbers behind it.
    public enum Failure: Sendable, Equatable {
        /// The model is not in the catalog.
        case unknownModel(String)
        /// It can never fit: needed > budget − pinned.
        case doesNotFit(model: String, needed: UInt64, budget: UInt64, pinned: UInt64)
        case loadFailed(model: String, reason: String)
    }

    /// A model Ollama holds, or is loading or unloading for us.
    struct Resident: Sendable, Equatable {
        enum Phase: Sendable, Equatable { case loading, loaded, unloading }
        var phase: Phase
        var bytes: UInt64
        var inFlight = 0
        var lastUsed: ContinuousClock.Instant
    }

    struct Waiting: Sendable, Equatable {
        var id: RequestID
        var model: String
        var requestClass: JobClass
        var since: ContinuousClock.Instant
    }
}
