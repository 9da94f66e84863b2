import GPUCtlCore
import GPUCtlModels
import GPUCtlStore

// What the daemon's own code throws: each error says what failed and why, in a sentence for
// people, and carries its cause. Which RPC error kind each one is gets decided once, at the
// edge (RPCErrorPayload(_:) in ErrorMapping.swift), never where it is thrown.

/// The Scheduler refused a request or a job, with the numbers it decided on.
struct SchedulerRefusal: Error, Sendable {
    let failure: Scheduler.Failure
    /// The budget when it refused (for the sentence's numbers).
    let budget: BudgetStatus
    /// Why the load failed, when it did: its kind is the refusal's kind.
    var loadError: (any Error)?
    /// The model first asked for, when `failure` is about its fallback.
    var fallbackFor: String?

    var message: String {
        var text: String
        switch failure {
        case .unknownModel(let model):
            text = "model '\(model)' is neither in the catalog nor in Ollama; add it to models.json or pull it with 'ollama pull \(model)'"
        case .doesNotFit(let model, let needed, let budgetBytes, let pinned):
            text = "\(model) needs \(ByteSize(bytes: needed)) but can never fit: the budget is \(ByteSize(bytes: budgetBytes)) (\(budget.total) total − \(budget.reserve) reserve − \(budget.foreign) foreign) and pinned models hold \(ByteSize(bytes: pinned)); use a smaller model, lower --reserve, or unpin a model"
        case .loadFailed(let model, let reason):
            text = "Ollama could not load \(model): \(loadError.map { RPCErrorPayload($0).message } ?? reason)"
        }
        if let fallbackFor, case .loadFailed(let model, _) = failure, model != fallbackFor {
            text += " (it was tried as the fallback for \(fallbackFor))"
        }
        return text
    }

    /// The sentence a refused ComfyUI job records.
    func jobMessage(_ jobID: String) -> String {
        guard case .doesNotFit(_, let needed, let budgetBytes, _) = failure else { return message }
        return "job \(jobID) needs \(ByteSize(bytes: needed)) of VRAM but can never fit: the budget is \(ByteSize(bytes: budgetBytes)); lower the job's vram estimate or --reserve"
    }
}

/// A model a call names cannot be used.
enum ModelError: Error, Sendable {
    /// Neither in the catalog nor in Ollama; `suggestion` is the nearest known name.
    case notFound(String, suggestion: String?)
    /// A ComfyUI checkpoint named where an Ollama model is needed.
    case notAnOllamaModel(String, Backend)
    /// Ollama was asked to unload it and still lists it.
    case stillResident(String)
    /// Ollama's answer grew past what any model writes (a broken or hostile backend).
    case answerTooLarge(String, limit: Int)

    var message: String {
        switch self {
        case .notFound(let name, let suggestion):
            let hint = suggestion.map { "did you mean '\($0)'? " } ?? ""
            return "model '\(name)' is neither in the catalog nor in Ollama; \(hint)see 'gpuctl ps --all', or pull it with 'ollama pull \(name)'"
        case .notAnOllamaModel(let name, .tts):
            return "'\(name)' is a text-to-speech model, not an Ollama model; use it with speak ('gpuctl speak -m \(name) TEXT -o FILE.wav')"
        case .notAnOllamaModel(let name, _):
            return "'\(name)' is a ComfyUI checkpoint, not an Ollama model; ComfyUI models are used through workflows"
        case .stillResident(let model):
            return "Ollama still lists \(model) after it was asked to unload it; check Ollama's log, then retry"
        case .answerTooLarge(let model, let limit):
            return "Ollama's answer from \(model) passed \(ByteSize(bytes: UInt64(limit))) of text, more than any model writes, so gpuctld kept no more of it; check that \(model) is not looping and that the Ollama URL is really Ollama"
        }
    }
}

/// A job a call names, or one it submits, cannot be handled.
enum JobError: Error, Sendable {
    case notFound(String)
    case alreadyEnded(String, JobState)
    /// The submission itself is wrong in what it names (a workflow, a parameter, a file).
    case badSubmission(String)
    /// The store failed: `action` is what was being done.
    case store(action: String, StoreError)

    var message: String {
        switch self {
        case .notFound(let id): "no job \(id); list jobs with 'gpuctl jobs'"
        case .alreadyEnded(let id, let state): "job \(id) already ended as \(state.rawValue); there is nothing to cancel"
        case .badSubmission(let detail): detail
        case .store(let action, let error): action.isEmpty ? error.message : "\(action): \(error.message)"
        }
    }
}

/// A job's outputs could not be written where they belong.
struct OutputError: Error, Sendable, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The daemon is stopping.
struct ShuttingDown: Error, Sendable {
    let message: String
}

/// A request waited longer than its limit (a front door's queue timeout) for room on the card.
struct QueueTimeout: Error, Sendable {
    let model: String
    let limit: Duration
    /// The setting that sets the limit, named in the sentence.
    let setting: DaemonSetting

    var message: String {
        "\(model) waited \(limit.seconds.formatted()) s for room on the card and gave up; try again later, or raise --\(setting.flag)"
    }
}

/// A backend's identity changed and no one has trusted the new one yet (BackendTrust): no work
/// is sent to it.
struct BackendUntrusted: Error, Sendable {
    let message: String
}
