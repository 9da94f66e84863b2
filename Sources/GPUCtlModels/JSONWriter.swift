import Foundation

/// Writes JSON without an encoder: keys sorted, integers without a fraction, no escaped
/// slashes. Used on the hot paths (RPC envelopes, streamed chunks, backend request bodies),
/// where Foundation's JSONEncoder costs tens of microseconds per small object.
public enum JSONWriter {
    public static func data(_ value: JSONValue) -> Data {
        var out = Data()
        append(value, to: &out)
        return out
    }

    public static func append(_ value: JSONValue, to out: inout Data) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): appendNumber(number, to: &out)
        case .string(let text): appendString(text, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(members[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Integers stay integers (ids, byte counts); JSON has no NaN or infinity, so those are null.
    public static func appendNumber(_ number: Double, to out: inout Data) {
        if !number.isFinite {
            out.append(contentsOf: "null".utf8)
        } else if number == number.rounded(), abs(number) < 9.0e15 {
            out.append(contentsOf: String(Int64(number)).utf8)
        } else {
            out.append(contentsOf: "\(number)".utf8)
        }
    }

    public static func appendString(_ text: String, to out: inout Data) {
        out.append(UInt8(ascii: "\""))
        var utf8 = text.utf8
        // Most text needs no escaping: copy it in one go.
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(contentsOf: utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        utf8 = text.utf8
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                        hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// The value written as JSON (`"big"`, `1.5`, `[1,2]`), for messages.
    public var jsonText: String { String(decoding: JSONWriter.data(self), as: UTF8.self) }
}
