import Foundation

/// `ping`'s result.
public struct PingResult: Codable, Sendable, Equatable {
    public var pong: Bool
    public init(pong: Bool = true) { self.pong = pong }
}

/// `version`'s result.
public struct VersionResult: Codable, Sendable, Equatable {
    public var name: String
    public var version: String
    public var `protocol`: Int
    public init(name: String = "gpuctld", version: String = GPUCtlVersion.current,
                protocol: Int = GPUCtlVersion.protocolRevision) {
        self.name = name
        self.version = version
        self.protocol = `protocol`
    }
}

/// `status`'s result: one consistent snapshot, built from state the daemon already holds
/// (backend health and GPU samples are refreshed in the background, never on this path).
public struct StatusResult: Codable, Sendable, Equatable {
    public var daemon: DaemonStatus
    public var gpu: GPUStatus
    public var budget: BudgetStatus
    public var backends: BackendsStatus
    public var catalog: CatalogSummary
    public var jobs: JobCounts

    public init(daemon: DaemonStatus, gpu: GPUStatus, budget: BudgetStatus, backends: BackendsStatus,
                catalog: CatalogSummary, jobs: JobCounts) {
        self.daemon = daemon
        self.gpu = gpu
        self.budget = budget
        self.backends = backends
        self.catalog = catalog
        self.jobs = jobs
    }
}

public struct DaemonStatus: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public var uptimeSeconds: Double
    public var socket: String
    public var stateDir: String
    /// Where Prometheus metrics are served over HTTP (`--metrics-listen`); absent when not.
    public var metricsURL: String?
    /// Where the Ollama-compatible door is served (`--ollama-listen`); absent when not.
    public var ollamaDoorURL: String?
    /// Where the ComfyUI door is served (`--comfyui-listen`); absent when not.
    public var comfyUIDoorURL: String?

    public init(version: String, pid: Int32, uptimeSeconds: Double, socket: String, stateDir: String,
                metricsURL: String? = nil, ollamaDoorURL: String? = nil, comfyUIDoorURL: String? = nil) {
        self.comfyUIDoorURL = comfyUIDoorURL
        self.metricsURL = metricsURL
        self.ollamaDoorURL = ollamaDoorURL
        self.version = version
        self.pid = pid
        self.uptimeSeconds = uptimeSeconds
        self.socket = socket
        self.stateDir = stateDir
    }
}

/// Where the GPU numbers come from.
public enum GPUSource: String, Codable, Sendable, Equatable {
    case nvml
    case nvidiaSMI = "nvidia-smi"
    /// No GPU could be read: the total is the `--vram` the user declared, used is unknown (0).
    case declared
}

public struct GPUProcessStatus: Codable, Sendable, Equatable {
    public var pid: Int32
    public var name: String
    public var used: ByteSize
    /// `ollama`, `comfyui` or `foreign`.
    public var owner: String

    public init(pid: Int32, name: String, used: ByteSize, owner: String) {
        self.pid = pid
        self.name = name
        self.used = used
        self.owner = owner
    }
}

public struct GPUStatus: Codable, Sendable, Equatable {
    public var name: String
    public var total: ByteSize
    public var used: ByteSize
    public var free: ByteSize
    public var source: GPUSource
    public var processes: [GPUProcessStatus]
    /// Why the last sample failed, if it did (the previous numbers are kept).
    public var lastError: String?

    public init(name: String, total: ByteSize, used: ByteSize, free: ByteSize, source: GPUSource,
                processes: [GPUProcessStatus], lastError: String? = nil) {
        self.name = name
        self.total = total
        self.used = used
        self.free = free
        self.source = source
        self.processes = processes
        self.lastError = lastError
    }
}

/// budget = total − reserve − foreign.
public struct BudgetStatus: Codable, Sendable, Equatable {
    public var total: ByteSize
    public var reserve: ByteSize
    public var foreign: ByteSize
    public var budget: ByteSize

    public init(total: ByteSize, reserve: ByteSize, foreign: ByteSize, budget: ByteSize) {
        self.total = total
        self.reserve = reserve
        self.foreign = foreign
        self.budget = budget
    }
}

public enum BackendState: String, Codable, Sendable, Equatable {
    /// Not probed yet.
    case unknown
    case up
    case down
}

public struct BackendStatus: Codable, Sendable, Equatable {
    public var url: String
    public var state: BackendState
    public var version: String?
    public var lastError: String?
    /// Round-trip time of the last probe, in milliseconds.
    public var latencyMs: Double?
    /// When the last probe finished (ISO 8601).
    public var checkedAt: String?
    /// What gpuctld charges this backend on the card now: Ollama's resident models, ComfyUI's
    /// working set (its checkpoints and caches, during a job and after it).
    public var held: ByteSize?
    /// Set while what answers at the URL is not the backend gpuctld knew there (its identity
    /// changed: an upgrade, or another program on its port): what changed, and what to do.
    /// Nothing is sent to it until `backends.trust`.
    public var untrusted: String?

    public init(url: String, state: BackendState = .unknown, version: String? = nil, lastError: String? = nil,
                latencyMs: Double? = nil, checkedAt: String? = nil, held: ByteSize? = nil, untrusted: String? = nil) {
        self.held = held
        self.untrusted = untrusted
        self.url = url
        self.state = state
        self.version = version
        self.lastError = lastError
        self.latencyMs = latencyMs
        self.checkedAt = checkedAt
    }
}

/// Every backend gpuctld manages, keyed by its name: `{"ollama": {…}, "comfyui": {…}}`.
public struct BackendsStatus: Codable, Sendable, Equatable {
    public private(set) var byBackend: [Backend: BackendStatus]

    public init(_ byBackend: [Backend: BackendStatus]) {
        self.byBackend = byBackend
    }

    public init(ollama: BackendStatus, comfyui: BackendStatus) {
        self.init([.ollama: ollama, .comfyui: comfyui])
    }

    /// A backend's status; one never probed is `unknown` at no URL.
    public subscript(backend: Backend) -> BackendStatus {
        get { byBackend[backend] ?? BackendStatus(url: "") }
        set { byBackend[backend] = newValue }
    }

    public var ollama: BackendStatus {
        get { self[.ollama] }
        set { self[.ollama] = newValue }
    }

    public var comfyui: BackendStatus {
        get { self[.comfyui] }
        set { self[.comfyui] = newValue }
    }

    public init(from decoder: any Decoder) throws {
        let keyed = try [String: BackendStatus](from: decoder)
        byBackend = Dictionary(uniqueKeysWithValues: keyed.compactMap { key, value in Backend(rawValue: key).map { ($0, value) } })
    }

    public func encode(to encoder: any Encoder) throws {
        try Dictionary(uniqueKeysWithValues: byBackend.map { ($0.key.rawValue, $0.value) }).encode(to: encoder)
    }
}

public struct CatalogSummary: Codable, Sendable, Equatable {
    public var path: String?
    public var models: Int
    public var ollama: Int
    public var comfyui: Int
    public var pinned: Int
    /// The sum of the declared VRAM of every model.
    public var declaredVRAM: ByteSize

    public init(path: String?, models: Int, ollama: Int, comfyui: Int, pinned: Int, declaredVRAM: ByteSize) {
        self.path = path
        self.models = models
        self.ollama = ollama
        self.comfyui = comfyui
        self.pinned = pinned
        self.declaredVRAM = declaredVRAM
    }
}

/// How many jobs are in each state, from the store.
public struct JobCounts: Codable, Sendable, Equatable {
    public var queued: Int
    public var running: Int
    public var succeeded: Int
    public var failed: Int
    public var cancelled: Int

    public init(queued: Int = 0, running: Int = 0, succeeded: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        self.queued = queued
        self.running = running
        self.succeeded = succeeded
        self.failed = failed
        self.cancelled = cancelled
    }
}
