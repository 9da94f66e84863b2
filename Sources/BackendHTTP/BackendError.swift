/// Which backend a `BackendError` is from: each client names its own, so an Ollama failure and
/// a ComfyUI failure are different types (and are told apart where they become RPC errors).
public protocol BackendIdentity: Sendable {
    /// As messages name it: "Ollama", "ComfyUI".
    static var name: String { get }
}

/// Any backend's failed call, seen without its backend's type.
public protocol BackendFailure: Error {
    /// Nothing accepted the connection: no request reached the backend.
    var isUnreachable: Bool { get }
}

/// A failed call to a backend, as both backend clients report it: the backend's own message and
/// status when it answered, else why it could not be reached.
public struct BackendError<Backend: BackendIdentity>: BackendFailure, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable, timeout, http, decoding, interrupted
    }

    public var kind: Kind
    /// HTTP status when the backend answered.
    public var status: Int?
    public var message: String

    public var description: String { message }
    public var isUnreachable: Bool { kind == .unreachable }

    public init(kind: Kind, status: Int?, message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    /// A backend's own error text as one sentence: trimmed, and cut at 1,000 characters (a
    /// body may be up to the 16 MiB any answer may be).
    public static func sentence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.count > 1_000 ? trimmed.prefix(1_000) + "…" : trimmed
    }

    /// `httpMessage` turns a non-2xx status and body into the sentence to report, in that
    /// backend's own error format.
    public init(_ failure: HTTPCallFailure, endpoint: String, httpMessage: (_ status: Int, _ body: String) -> String) {
        let backend = Backend.name
        switch failure {
        case .unreachable(let reason):
            self.init(kind: .unreachable, status: nil, message: "\(backend) is unreachable (\(reason)) at \(endpoint)")
        case .timedOut(let seconds):
            self.init(kind: .timeout, status: nil, message: "\(backend) did not answer \(endpoint) within \(seconds) s")
        case .streamTimedOut(let kind, let seconds):
            self.init(kind: .timeout, status: nil,
                      message: "\(backend) went silent at \(endpoint): no data within the \(kind.rawValue) limit of \(seconds.formatted()) s")
        case .status(let code, let body):
            self.init(kind: .http, status: code, message: httpMessage(code, body))
        case .interrupted(let detail):
            self.init(kind: .interrupted, status: nil, message: "\(backend) broke off its answer from \(endpoint) (\(detail))")
        case .undecodable(let detail):
            self.init(kind: .decoding, status: nil, message: "\(backend)'s answer to \(endpoint) was not understood (\(detail))")
        }
    }
}
