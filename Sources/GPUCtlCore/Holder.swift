import GPUCtlModels

/// What holds memory on the card, as the Scheduler charges it: a model a backend loads by name
/// (Ollama's), or a backend's own working set (ComfyUI's checkpoints and caches, during a job
/// and after it, until it is asked to free them).
public enum Holder: Hashable, Sendable, CustomStringConvertible {
    case model(String)
    case backend(Backend)

    /// The model's name; nil for a backend's working set.
    public var model: String? {
        if case .model(let name) = self { return name }
        return nil
    }

    public var description: String {
        switch self {
        case .model(let name): name
        case .backend(let backend): "\(backend.rawValue) (its working set)"
        }
    }
}
