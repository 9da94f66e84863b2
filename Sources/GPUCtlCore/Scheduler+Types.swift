import GPUCtlModels

extension Scheduler {
    /// Identifies one waiting or running request (an inference that needs its model resident,
    /// or a ComfyUI job that needs its VRAM).
    public typealias RequestID = UInt64

    /// The backend the job lane runs on: ComfyUI. Its working set (checkpoints, caches) is the
    /// holder `.backend(.comfyui)`, held during a job and after it until it is freed.
    public static let jobBackend = Backend.comfyui

    /// What the Scheduler knows of a model it may place: from the catalog and the store.
    public struct ModelPolicy: Sendable, Equatable {
        /// max(declared, learned): what admission charges before the model is measured.
        public var footprint: UInt64
        public var priority: Int
        public var pinned: Bool
        /// Where requests go when this model cannot fit now or fails to load.
        public var fallback: String?

        public init(footprint: UInt64, priority: Int = ModelSpec.defaultPriority, pinned: Bool = false,
                    fallback: String? = nil) {
            self.footprint = footprint
            self.priority = priority
            self.pinned = pinned
            self.fallback = fallback
        }
    }

    /// Everything that happens, as the Supervisor reports it.
    public enum Event: Sendable, Equatable {
        /// A request needs `model` resident. An `exact` one (an explicit load or swap) never
        /// moves to the model's fallback.
        case requested(RequestID, model: String, requestClass: JobClass, exact: Bool = false)
        /// A request that was told to run has ended (success, error or cancel).
        case finished(RequestID)
        /// A waiting request was cancelled before it ran.
        case cancelled(RequestID)
        /// Ollama confirmed the model loaded; `bytes` is its measured size_vram.
        case loaded(model: String, bytes: UInt64)
        case loadFailed(model: String, reason: String)
        /// /api/ps no longer lists the model.
        case unloaded(model: String)
        /// The backend gave its working set back (ComfyUI's /free finished, or it went away).
        case freed(Backend)
        /// A free ended with memory still held (`stillHeld`, when the backend said how much):
        /// it counts as held again, and is not asked again before `freeRetryDelay` has passed.
        case freeFailed(Backend, stillHeld: UInt64?)
        /// An unload was asked for but the model is still listed: it counts as loaded again.
        case unloadFailed(model: String)
        /// Someone asked for this model to go (`models.unload`, `models.swap`): at once when
        /// idle, else when its last request ends. Pinning does not stop an explicit unload.
        case unloadRequested(model: String)
        /// One /api/ps poll: every model Ollama holds and its size_vram (behind gpuctl's back too).
        case observed([String: UInt64])
        /// The budget changed (GPU sample, foreign use, reserve).
        case budgetChanged(UInt64)
        /// A model was added or its footprint learned.
        case policyChanged(model: String, ModelPolicy)
        /// Time passed (after a `.wake`).
        case tick
        /// A ComfyUI job needs `bytes` on the card. A `resumed` one (found in ComfyUI after a
        /// restart, or handed back because ComfyUI went away) goes before every other job.
        case jobRequested(RequestID, bytes: UInt64, requestClass: JobClass, resumed: Bool = false)
        /// Whether the backend may take work now (for ComfyUI: it is up).
        case backendAvailable(Backend, Bool)
        /// What the backend's working set holds on the card now (ComfyUI: /system_stats).
        case backendObserved(Backend, bytes: UInt64)
    }

    /// What the Supervisor must do, in order.
    public enum Action: Sendable, Equatable {
        case load(model: String)
        case unload(model: String)
        /// Ask the backend to give its working set back (ComfyUI: `/free`); answered `.freed`.
        case free(Backend)
        /// Run the request on `model` (its fallback when the one asked for could not be used).
        case run(RequestID, model: String)
        /// Run the job on the backend: its memory is set aside.
        case runJob(RequestID, on: Backend)
        case fail(RequestID, Failure)
        /// Send `.tick` at this instant: a waiting request is held back only by the swap-rate limit.
        case wake(at: ContinuousClock.Instant)
    }

    /// Why a request was refused: a stable kind and the numbers behind it.
    public enum Failure: Sendable, Equatable {
        /// The model is not in the catalog.
        case unknownModel(String)
        /// It can never fit: needed > budget − pinned.
        case doesNotFit(model: String, needed: UInt64, budget: UInt64, pinned: UInt64)
        case loadFailed(model: String, reason: String)
    }

    public enum Phase: String, Sendable, Equatable { case loading, loaded, unloading }

    /// A model Ollama holds (or is loading or unloading for us), or a backend's working set.
    public struct Resident: Sendable, Equatable {
        public internal(set) var phase: Phase
        public internal(set) var bytes: UInt64
        public internal(set) var inFlight = 0
        public internal(set) var lastUsed: ContinuousClock.Instant
        /// When it became loaded (the swap-rate limit counts from here).
        public internal(set) var loadedAt: ContinuousClock.Instant
        /// Unload once its last request ends.
        public internal(set) var unloadWhenIdle = false
        /// After a free that did not free: not evicted again before this.
        public internal(set) var retryAt: ContinuousClock.Instant?
    }

    struct Waiting: Sendable, Equatable {
        var id: RequestID
        /// The model it will run on: the one asked for, or its fallback.
        var model: String
        var requestClass: JobClass
        var since: ContinuousClock.Instant
        var exact = false
        /// What a ComfyUI job needs; 0 for model requests (their model's policy says).
        var bytes: UInt64 = 0
    }
}
