/// Which backend serves a model.
public enum Backend: String, Codable, Sendable, CaseIterable {
    case ollama
    case comfyui
    /// A text-to-speech server with OpenAI's `/v1/audio/speech` (`--tts-url`).
    case tts
}

/// One entry of models.json: a model gpuctld may place on the card, and its policy.
public struct ModelSpec: Sendable, Equatable, Codable {
    /// The backend's own name: an Ollama tag (`llama3.1:8b`) or a ComfyUI checkpoint file.
    public var name: String
    public var backend: Backend
    /// Declared VRAM footprint; admission uses max(declared, learned).
    public var vram: ByteSize
    /// 0…100; lower priority models are evicted first.
    public var priority: Int
    /// A pinned model is never evicted by gpuctld.
    public var pinned: Bool
    /// Ollama keep_alive sent on load (Ollama models only).
    public var keepAlive: KeepAlive?
    /// Ollama runner options sent on every load (e.g. num_ctx), so Ollama never reloads it.
    public var options: [String: JSONValue]
    /// Other names that resolve to this model.
    public var aliases: [String]
    /// The model to use instead when this one cannot fit now or fails to load.
    public var fallback: String?

    public init(name: String, backend: Backend, vram: ByteSize, priority: Int = ModelSpec.defaultPriority,
                pinned: Bool = false, keepAlive: KeepAlive? = nil, options: [String: JSONValue] = [:],
                aliases: [String] = [], fallback: String? = nil) {
        self.name = name
        self.backend = backend
        self.vram = vram
        self.priority = priority
        self.pinned = pinned
        self.keepAlive = keepAlive
        self.options = options
        self.aliases = aliases
        self.fallback = fallback
    }

    public static let defaultPriority = 50
}

/// The validated catalog: every model once, every alias unique.
public struct Catalog: Sendable, Equatable {
    /// Models sorted by name.
    public private(set) var models: [ModelSpec]
    private var index: [String: Int]

    /// Builds the lookup table; validation has already made names and aliases unique.
    public init(models: [ModelSpec]) {
        self.models = models.sorted { $0.name < $1.name }
        var index: [String: Int] = [:]
        for (position, model) in self.models.enumerated() {
            index[model.name] = position
            for alias in model.aliases { index[alias] = position }
        }
        self.index = index
    }

    public static let empty = Catalog(models: [])

    /// The model with this name or alias.
    public func model(named nameOrAlias: String) -> ModelSpec? {
        index[nameOrAlias].map { models[$0] }
    }

    public func summary(path: String?) -> CatalogSummary {
        CatalogSummary(
            path: path,
            models: models.count,
            ollama: models.filter { $0.backend == .ollama }.count,
            comfyui: models.filter { $0.backend == .comfyui }.count,
            pinned: models.filter(\.pinned).count,
            declaredVRAM: ByteSize(bytes: models.reduce(0) { $0 + $1.vram.bytes }))
    }
}
