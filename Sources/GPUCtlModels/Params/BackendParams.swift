/// `backends.trust`: `{"backend": "ollama" | "comfyui"}`.
public struct BackendTrustParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case backend }

    public var backend: Backend

    public init(backend: Backend) {
        self.backend = backend
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        let name = try params.requiredString(Field.backend)
        guard let backend = Backend(rawValue: name) else {
            throw params.fail("'backend' is '\(name)'; name one of \(Backend.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.backend = backend
    }

    public var json: JSONValue { ["backend": .string(backend.rawValue)] }
}

/// `backends.trust`: the identity now trusted at the backend's URL, and whether work was held
/// for it (it had changed).
public struct BackendTrustResult: Codable, Sendable, Equatable {
    public var backend: String
    /// nil when the backend has not answered a probe yet (nothing to trust).
    public var identity: String?
    public var wasHeld: Bool

    public init(backend: String, identity: String?, wasHeld: Bool) {
        self.backend = backend
        self.identity = identity
        self.wasHeld = wasHeld
    }
}
