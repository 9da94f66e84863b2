import Foundation
import GPUCtlModels

/// One JSON-RPC call, checked against the 2.0 envelope rules.
public struct RPCCall: Sendable {
    /// The request id: a string or a number; nil for a notification (no reply is sent).
    public var id: JSONValue?
    public var method: String
    public var params: JSONValue?

    public init(id: JSONValue?, method: String, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.params = params
    }

    /// Decodes `params` into `T`, answering -32602 with the reason when they do not fit.
    public func decodeParams<T: Decodable>(_ type: T.Type) throws(RPCErrorPayload) -> T {
        do {
            let data = try JSONEncoder().encode(params ?? .object([:]))
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw RPCErrorPayload(.invalidParams, "invalid params for \(method): \(RPCDecodingText.describe(error))")
        }
    }
}

/// What one line of input turned out to be.
public enum RPCIncoming: Sendable {
    /// A well-formed call.
    case call(RPCCall)
    /// Something that must be answered with an error (id is null when it could not be read).
    case invalid(id: JSONValue, RPCErrorPayload)
}

/// One line: a single message or a batch (a JSON array of messages).
public enum RPCLine: Sendable {
    case single(RPCIncoming)
    case batch([RPCIncoming])
}

/// Parses NDJSON lines into calls. Pure: the server and the tests share it.
public enum RPCMessageParser {
    /// Parses one line (without its newline).
    public static func parse<Bytes: Collection>(_ bytes: Bytes) -> RPCLine where Bytes.Element == UInt8 {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            return .single(.invalid(id: .null, RPCErrorPayload(
                .parseError, "parse error: the line is not valid JSON (\(error.description)); send one JSON-RPC object per line")))
        }
        if case .array(let items) = value {
            guard !items.isEmpty else {
                return .single(.invalid(id: .null, RPCErrorPayload(.invalidRequest, "invalid request: an empty batch")))
            }
            return .batch(items.map(check))
        }
        return .single(check(value))
    }

    /// Checks the envelope of one message: an object, `"jsonrpc":"2.0"`, a string method, a
    /// string/number/null id, params an object or an array if present.
    public static func check(_ value: JSONValue) -> RPCIncoming {
        guard let object = value.objectValue else {
            return .invalid(id: .null, RPCErrorPayload(
                .invalidRequest, "invalid request: expected a JSON-RPC object, got \(value.typeName)"))
        }
        var id: JSONValue?
        switch object["id"] {
        case nil: id = nil
        case .string?, .number?, .null?: id = object["id"]
        case let other?:
            return .invalid(id: .null, RPCErrorPayload(
                .invalidRequest, "invalid request: \"id\" must be a string or a number, not \(other.typeName)"))
        }
        guard object["jsonrpc"] == .string("2.0") else {
            return .invalid(id: id ?? .null, RPCErrorPayload(
                .invalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\""))
        }
        guard case .string(let method)? = object["method"] else {
            return .invalid(id: id ?? .null, RPCErrorPayload(
                .invalidRequest, "invalid request: \"method\" must be a string"))
        }
        let params = object["params"]
        switch params {
        case nil, .object?, .array?: break
        case let other?:
            return .invalid(id: id ?? .null, RPCErrorPayload(
                .invalidParams, "invalid params for \(method): \"params\" must be an object or an array, not \(other.typeName)"))
        }
        return .call(RPCCall(id: id, method: method, params: params))
    }
}

/// Short, readable text for a decoding error.
enum RPCDecodingText {
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        case DecodingError.keyNotFound(let key, _):
            return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(let type, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "\(path.isEmpty ? "value" : "field \"\(path)\"") must be \(type)"
        case DecodingError.valueNotFound(_, let context):
            return "field \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" is null"
        default:
            return String(describing: error)
        }
    }
}
