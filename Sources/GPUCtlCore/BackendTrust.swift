import GPUCtlModels

/// Which backend gpuctld trusts at each URL: the first identity a probe found there since the
/// daemon started, or the one a user accepted with `backends.trust`. A backend that answers
/// with another identity (its version or, for ComfyUI, its system_stats changed: an upgrade,
/// or another program that took the port while the backend was down; backends are
/// unauthenticated loopback ports) is untrusted: nothing is sent to it until it is trusted.
/// An identity is a claim the backend makes: this catches a change, not a careful impostor.
public struct BackendTrust: Sendable, Equatable {
    /// The identity trusted per backend.
    public private(set) var trusted: [Backend: String] = [:]
    /// The identity the last probe found, per backend.
    public private(set) var current: [Backend: String] = [:]

    public init() {}

    /// Records what a probe found. Returns true when this changed whether the backend is
    /// trusted (it became untrusted, or came back as the trusted one).
    public mutating func observe(_ backend: Backend, identity: String) -> Bool {
        let before = isTrusted(backend)
        current[backend] = identity
        if trusted[backend] == nil { trusted[backend] = identity }
        return before != isTrusted(backend)
    }

    /// False while the backend answering is not the one trusted.
    public func isTrusted(_ backend: Backend) -> Bool {
        guard let now = current[backend], let known = trusted[backend] else { return true }
        return now == known
    }

    /// One sentence for status and errors while untrusted; nil while trusted.
    public func warning(_ backend: Backend, url: String) -> String? {
        guard !isTrusted(backend), let now = current[backend], let known = trusted[backend] else { return nil }
        let name = switch backend {
        case .ollama: "Ollama"
        case .comfyui: "ComfyUI"
        case .tts: "the TTS server"
        }
        return "\(name) at \(url) is not the one gpuctld knew there (it was \(known), it is now \(now)): "
            + "nothing is sent to it until you run 'gpuctl trust \(backend.rawValue)' (if you upgraded or restarted it yourself)"
    }

    /// Trusts what answers now. Returns it, and whether it was untrusted.
    public mutating func trust(_ backend: Backend) -> (identity: String?, wasUntrusted: Bool) {
        let wasUntrusted = !isTrusted(backend)
        if let now = current[backend] { trusted[backend] = now }
        return (current[backend], wasUntrusted)
    }
}
