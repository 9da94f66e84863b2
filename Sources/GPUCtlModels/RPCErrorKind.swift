/// The stable kind of an RPC error, sent as `error.data.kind`. Scripts match on this string,
/// never on the message, which is written for people and may change.
public enum RPCErrorKind: String, Sendable, Codable, CaseIterable {
    case parseError = "parse_error"
    case invalidRequest = "invalid_request"
    case methodNotFound = "method_not_found"
    case invalidParams = "invalid_params"
    case `internal` = "internal"
    case tooLarge = "too_large"
    case backendUnavailable = "backend_unavailable"
    case modelNotFound = "model_not_found"
    case doesNotFit = "does_not_fit"
    case jobNotFound = "job_not_found"
    case timeout = "timeout"
    case cancelled = "cancelled"
    case overloaded = "overloaded"
    case forbidden = "forbidden"
    case shuttingDown = "shutting_down"
    /// The backend answered, but with an error of its own (its message is passed on).
    case backendError = "backend_error"
    /// No collection by that name.
    case collectionNotFound = "collection_not_found"
    /// Vectors of another model or length than the collection holds.
    case collectionMismatch = "collection_mismatch"
    // The client's own (never sent by the daemon; `gpuctl --json` prints them like the rest).
    /// No daemon listens on the socket.
    case notRunning = "not_running"
    /// The daemon closed the connection before it answered.
    case closed = "closed"
    /// The daemon's answer is not what this client understands (another version?).
    case protocolError = "protocol_error"

    /// The JSON-RPC error code: the standard ones for protocol errors, -32000 and below for
    /// gpuctl's own.
    public var code: Int {
        switch self {
        case .parseError: -32700
        case .invalidRequest, .tooLarge: -32600
        case .methodNotFound: -32601
        case .invalidParams: -32602
        case .internal: -32603
        case .backendUnavailable: -32000
        case .modelNotFound: -32001
        case .doesNotFit: -32002
        case .jobNotFound: -32003
        case .timeout: -32004
        case .cancelled: -32005
        case .overloaded: -32006
        case .forbidden: -32007
        case .shuttingDown: -32008
        case .backendError: -32009
        case .notRunning: -32010
        case .closed: -32011
        case .protocolError: -32012
        case .collectionNotFound: -32013
        case .collectionMismatch: -32014
        }
    }
}

/// A JSON-RPC error object as sent on the wire: `{"code":..,"message":..,"data":{"kind":..}}`.
public struct RPCErrorPayload: Error, Sendable, Codable, Equatable {
    public struct Details: Sendable, Codable, Equatable {
        public var kind: String
        public init(kind: String) { self.kind = kind }
    }

    public var code: Int
    /// One sentence for people: what failed, why, what to do.
    public var message: String
    public var data: Details?

    public init(code: Int, message: String, data: Details?) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(_ kind: RPCErrorKind, _ message: String) {
        self.init(code: kind.code, message: message, data: Details(kind: kind.rawValue))
    }

    /// The stable kind, when the error carries one.
    public var kind: RPCErrorKind? { data.flatMap { RPCErrorKind(rawValue: $0.kind) } }
}
