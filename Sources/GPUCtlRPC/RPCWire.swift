import Foundation
import GPUCtlModels

/// How a method answered: a result already encoded as JSON, or an error.
public enum RPCReply: Sendable {
    case result(Data)
    case error(RPCErrorPayload)

    /// Encodes any result value.
    public static func encoding<T: Encodable>(_ value: T) -> RPCReply {
        do {
            return .result(try JSONEncoder.rpc.encode(value))
        } catch {
            return .error(RPCErrorPayload(.internal, "internal error: could not encode the result (\(error))"))
        }
    }
}

extension JSONEncoder {
    /// The encoder for everything on the wire: sorted keys, so replies are stable and diffable.
    public static var rpc: JSONEncoder { sharedRPC }

    /// One instance: its options never change after this, and encoding is thread-safe.
    private static let sharedRPC: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

/// Writes JSON-RPC envelopes as bytes, one line each.
public enum RPCWire {
    /// `{"jsonrpc":"2.0","id":…,"result":…}` or `{"jsonrpc":"2.0","id":…,"error":…}`, no newline.
    public static func response(id: JSONValue, reply: RPCReply) -> Data {
        var out = Data()
        out.reserveCapacity(64)
        out.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        appendJSON(id, to: &out)
        switch reply {
        case .result(let result):
            out.append(contentsOf: #","result":"#.utf8)
            out.append(result)
        case .error(let error):
            out.append(contentsOf: #","error":"#.utf8)
            out.append((try? JSONEncoder.rpc.encode(error)) ?? Data(#"{"code":-32603,"message":"internal error"}"#.utf8))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A server-to-client notification for a streaming request:
    /// `{"jsonrpc":"2.0","method":"stream","params":{"id":…,"data":…}}`.
    public static func streamNotification(id: JSONValue, data: Data) -> Data {
        var out = Data(#"{"jsonrpc":"2.0","method":"stream","params":{"id":"#.utf8)
        appendJSON(id, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(data)
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// A request line, as clients send it.
    public static func request(id: JSONValue, method: String, params: JSONValue?) -> Data {
        var out = Data(#"{"jsonrpc":"2.0","id":"#.utf8)
        appendJSON(id, to: &out)
        out.append(contentsOf: #","method":"#.utf8)
        appendString(method, to: &out)
        if let params {
            out.append(contentsOf: #","params":"#.utf8)
            JSONWriter.append(params, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func appendJSON(_ value: JSONValue, to out: inout Data) {
        JSONWriter.append(value, to: &out)
    }

    static func appendString(_ text: String, to out: inout Data) {
        JSONWriter.appendString(text, to: &out)
    }
}
