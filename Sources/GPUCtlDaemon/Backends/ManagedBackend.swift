import GPUCtlModels
import OllamaClient

/// A backend gpuctld manages on the card: how to tell it is up, what it holds there, and how
/// to make it give memory back. One adapter per backend (Backends/Ollama, Backends/ComfyUI),
/// registered once in `Daemon.start`; the monitor and the worker go through this alone.
protocol ManagedBackend: Sendable {
    var backend: Backend { get }
    var url: String { get }
    /// Whether it answers (its version) and, when it says, what it holds on the card now. Each
    /// call has its own deadline; a failure means it is down.
    func probe() async throws -> BackendProbe
    /// Makes it give its whole working set back and returns once it has, or once its wait for
    /// that ended with memory still held (then `confirmed` is false). A backend whose memory
    /// is only its models (Ollama) has none: they are unloaded one by one, by name, by the
    /// ModelWorker. Throws when the backend could not be asked.
    func freeWorkingSet() async throws -> FreeOutcome
}

/// How a free ended.
struct FreeOutcome: Sendable {
    /// What it holds came down to (nearly) nothing.
    var confirmed: Bool
    /// What it still holds, when it says.
    var stillHeld: UInt64?
    /// One line for the log.
    var summary: String
}

/// What one probe learnt.
struct BackendProbe: Sendable {
    var version: String
    /// What tells this backend from another answering at the same URL (BackendTrust).
    var identity: String
    /// nil when the backend would not say (the probe still counts as up).
    var holdings: BackendHoldings?
}

/// What a backend holds on the card.
enum BackendHoldings: Sendable {
    /// Models it loaded by name (behind gpuctld's back too), each with its size_vram.
    case models([RunningModel])
    /// One working set: its allocator's total (ComfyUI's checkpoints and caches).
    case workingSet(bytes: UInt64)
}

/// Every managed backend, by name.
struct BackendRegistry: Sendable {
    let all: [any ManagedBackend]

    init(_ all: [any ManagedBackend]) {
        self.all = all
    }

    subscript(backend: Backend) -> (any ManagedBackend)? {
        all.first { $0.backend == backend }
    }
}
