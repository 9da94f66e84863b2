/// One model in `models.list`: its policy from the catalog and what Ollama holds now.
public struct ModelEntry: Codable, Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    /// False for a model Ollama has that the catalog does not name.
    public var inCatalog: Bool
    /// `absent`, `loading`, `loaded` or `unloading`.
    public var state: String
    public var declaredVRAM: ByteSize?
    public var learnedVRAM: ByteSize?
    /// What admission charges: max(declared, learned).
    public var footprint: ByteSize?
    /// From /api/ps while resident.
    public var size: ByteSize?
    public var sizeVRAM: ByteSize?
    public var expiresAt: String?
    public var lastUsed: String?
    public var inFlight: Int
    public var waiting: Int
    /// Running requests by where they came from (`socket`, `ollama-door`); absent when none.
    public var sources: [String: Int]?
    public var priority: Int
    public var pinned: Bool
    public var keepAlive: String?
    public var fallback: String?

    public init(name: String, aliases: [String], inCatalog: Bool, state: String, declaredVRAM: ByteSize?,
                learnedVRAM: ByteSize?, footprint: ByteSize?, size: ByteSize?, sizeVRAM: ByteSize?, expiresAt: String?,
                lastUsed: String?, inFlight: Int, waiting: Int, sources: [String: Int]? = nil, priority: Int, pinned: Bool,
                keepAlive: String?, fallback: String?) {
        self.sources = sources
        self.name = name
        self.aliases = aliases
        self.inCatalog = inCatalog
        self.state = state
        self.declaredVRAM = declaredVRAM
        self.learnedVRAM = learnedVRAM
        self.footprint = footprint
        self.size = size
        self.sizeVRAM = sizeVRAM
        self.expiresAt = expiresAt
        self.lastUsed = lastUsed
        self.inFlight = inFlight
        self.waiting = waiting
        self.priority = priority
        self.pinned = pinned
        self.keepAlive = keepAlive
        self.fallback = fallback
    }
}

/// `models.list`: every catalog model and every model Ollama holds, with the budget.
public struct ModelsListResult: Codable, Sendable, Equatable {
    public var models: [ModelEntry]
    public var budget: BudgetStatus
    /// Bytes the resident models hold (as gpuctld accounts them).
    public var used: ByteSize

    public init(models: [ModelEntry], budget: BudgetStatus, used: ByteSize) {
        self.models = models
        self.budget = budget
        self.used = used
    }
}

/// The answer of `models.load`, `models.unload` and `models.swap`.
public struct ModelChangeResult: Codable, Sendable, Equatable {
    /// The model acted on (after alias resolution; the fallback when one was used).
    public var model: String
    public var requestedModel: String?
    public var fallbackUsed: Bool
    /// `loaded`, `already_resident`, `unloaded` or `not_resident`.
    public var outcome: String
    /// Models unloaded to make room or because a swap asked for it.
    public var unloaded: [String]
    /// Models a swap left resident because they are pinned.
    public var kept: [String]
    /// Resident models afterwards.
    public var resident: [String]
    public var elapsedMs: Double
    public var loadMs: Double?

    public init(model: String, requestedModel: String?, fallbackUsed: Bool, outcome: String, unloaded: [String],
                kept: [String], resident: [String], elapsedMs: Double, loadMs: Double?) {
        self.model = model
        self.requestedModel = requestedModel
        self.fallbackUsed = fallbackUsed
        self.outcome = outcome
        self.unloaded = unloaded
        self.kept = kept
        self.resident = resident
        self.elapsedMs = elapsedMs
        self.loadMs = loadMs
    }
}

/// gpuctld's own share of a request's time.
public struct GPUCtlTiming: Codable, Sendable, Equatable {
    /// From the request to the go-ahead (queueing, evictions, the load).
    public var waitMs: Double
    /// The load of the model, when it was loaded for this request.
    public var loadMs: Double?
    public var totalMs: Double

    public init(waitMs: Double, loadMs: Double?, totalMs: Double) {
        self.waitMs = waitMs
        self.loadMs = loadMs
        self.totalMs = totalMs
    }
}

/// Ollama's counters and durations for one answer (nanoseconds, as Ollama reports them).
public struct OllamaMetrics: Codable, Sendable, Equatable {
    public var totalDuration: Int64?
    public var loadDuration: Int64?
    public var promptEvalCount: Int64?
    public var promptEvalDuration: Int64?
    public var evalCount: Int64?
    public var evalDuration: Int64?

    public init(totalDuration: Int64? = nil, loadDuration: Int64? = nil, promptEvalCount: Int64? = nil,
                promptEvalDuration: Int64? = nil, evalCount: Int64? = nil, evalDuration: Int64? = nil) {
        self.totalDuration = totalDuration
        self.loadDuration = loadDuration
        self.promptEvalCount = promptEvalCount
        self.promptEvalDuration = promptEvalDuration
        self.evalCount = evalCount
        self.evalDuration = evalDuration
    }
}

/// The final answer of `generate` and `chat` (after the `stream` notifications).
public struct InferenceResult: Codable, Sendable, Equatable {
    public var model: String
    public var requestedModel: String
    public var fallbackUsed: Bool
    /// The whole text (also sent piece by piece as notifications).
    public var response: String
    public var thinking: String?
    public var doneReason: String?
    public var toolCalls: JSONValue?
    public var ollama: OllamaMetrics
    public var gpuctl: GPUCtlTiming

    public init(model: String, requestedModel: String, fallbackUsed: Bool, response: String, thinking: String?,
                doneReason: String?, toolCalls: JSONValue?, ollama: OllamaMetrics, gpuctl: GPUCtlTiming) {
        self.model = model
        self.requestedModel = requestedModel
        self.fallbackUsed = fallbackUsed
        self.response = response
        self.thinking = thinking
        self.doneReason = doneReason
        self.toolCalls = toolCalls
        self.ollama = ollama
        self.gpuctl = gpuctl
    }
}

/// The answer of `embed`.
public struct EmbedResult: Codable, Sendable, Equatable {
    public var model: String
    public var requestedModel: String
    public var fallbackUsed: Bool
    public var embeddings: [[Double]]
    /// Length of each vector.
    public var dimensions: Int
    public var ollama: OllamaMetrics
    public var gpuctl: GPUCtlTiming

    public init(model: String, requestedModel: String, fallbackUsed: Bool, embeddings: [[Double]], dimensions: Int,
                ollama: OllamaMetrics, gpuctl: GPUCtlTiming) {
        self.model = model
        self.requestedModel = requestedModel
        self.fallbackUsed = fallbackUsed
        self.embeddings = embeddings
        self.dimensions = dimensions
        self.ollama = ollama
        self.gpuctl = gpuctl
    }
}

/// `workflows.list`: the templates gpuctld can run, and the ones it skipped.
public struct WorkflowsListResult: Codable, Sendable, Equatable {
    public struct Parameter: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        public var required: Bool
        public var defaultValue: JSONValue?
        public var choices: [String]?
        public var description: String

        public init(name: String, type: String, required: Bool, defaultValue: JSONValue?, choices: [String]?, description: String) {
            self.name = name
            self.type = type
            self.required = required
            self.defaultValue = defaultValue
            self.choices = choices
            self.description = description
        }

        enum CodingKeys: String, CodingKey {
            case name, type, required, defaultValue = "default", choices, description
        }
    }

    public struct Workflow: Codable, Sendable, Equatable {
        public var name: String
        public var description: String
        public var parameters: [Parameter]
        public var checkpoints: [String]
        /// Explicit, or the checkpoints' declared sizes; nil when unknown.
        public var vram: ByteSize?
        /// The most a job of it was seen to take (or was charged after running out of memory);
        /// nil until one ran.
        public var learnedVRAM: ByteSize?

        public init(name: String, description: String, parameters: [Parameter], checkpoints: [String], vram: ByteSize?,
                    learnedVRAM: ByteSize? = nil) {
            self.name = name
            self.description = description
            self.parameters = parameters
            self.checkpoints = checkpoints
            self.vram = vram
            self.learnedVRAM = learnedVRAM
        }
    }

    public struct Broken: Codable, Sendable, Equatable {
        public var name: String
        public var problems: [String]

        public init(name: String, problems: [String]) {
            self.name = name
            self.problems = problems
        }
    }

    public var directory: String?
    public var workflows: [Workflow]
    public var broken: [Broken]

    public init(directory: String?, workflows: [Workflow], broken: [Broken]) {
        self.directory = directory
        self.workflows = workflows
        self.broken = broken
    }
}

/// `comfy.free`: what ComfyUI's allocator held before and after (`torch_vram_total` in
/// /system_stats), and whether the free was confirmed (what it holds came down to at most
/// `ComfyFreeResult.residue`).
public struct ComfyFreeResult: Codable, Sendable, Equatable {
    /// What torch's caching allocator keeps after a free (small blocks still referenced).
    public static let residue: UInt64 = 256 << 20

    public var heldBefore: ByteSize
    public var heldAfter: ByteSize
    public var freed: ByteSize
    /// False when ComfyUI still held more than the residue when the wait ended.
    public var confirmed: Bool
    public var elapsedMs: Double

    public init(heldBefore: ByteSize, heldAfter: ByteSize, confirmed: Bool, elapsedMs: Double) {
        self.heldBefore = heldBefore
        self.heldAfter = heldAfter
        self.freed = ByteSize(bytes: heldBefore.bytes > heldAfter.bytes ? heldBefore.bytes - heldAfter.bytes : 0)
        self.confirmed = confirmed
        self.elapsedMs = elapsedMs
    }
}
