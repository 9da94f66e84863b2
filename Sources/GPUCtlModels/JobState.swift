/// The life of a gpuctld job: queued → admitted → submitted → running → succeeded / failed / cancelled.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case admitted
    case submitted
    case running
    case succeeded
    case failed
    case cancelled

    /// A job in a final state never changes again.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// What a job does.
public enum JobKind: String, Codable, Sendable, CaseIterable {
    case comfyui
    case ollama
    /// A pipeline run: its steps are Ollama calls and ComfyUI jobs of their own.
    case pipeline
}

/// Who waits for a job: `interactive` work (an editor, the CLI) goes before `batch`.
public enum JobClass: String, Codable, Sendable, CaseIterable {
    case interactive
    case batch
}
