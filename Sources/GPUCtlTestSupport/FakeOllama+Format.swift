import Foundation
import GPUCtlModels

extension FakeOllama {
    /// What the fake answers when a request asks for `format` and no script decides: real
    /// Ollama constrains generation to the format (a JSON schema, or any JSON for `"json"`), so
    /// the fake writes a value of that shape from its usual words. Deterministic, so examples
    /// replay; arrays hold three items, numbers are small.
    enum FormattedAnswer {
        static func text(for format: JSONValue?, words: [String]) -> String? {
            switch format {
            case .string("json")?:
                return encode(.object(["text": .string(words.prefix(3).joined(separator: " "))]))
            case .object?:
                var counter = 0
                return encode(value(for: format!, key: "text", words: words, counter: &counter, depth: 0))
            default:
                return nil
            }
        }

        static func value(for schema: JSONValue, key: String, words: [String], counter: inout Int, depth: Int) -> JSONValue {
            if let choices = schema["enum"]?.arrayValue, let first = choices.first { return first }
            let type = schema["type"]?.stringValue ?? (schema["properties"] != nil ? "object" : "string")
            switch type {
            case "object" where depth < 8:
                var object: [String: JSONValue] = [:]
                for (name, property) in (schema["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    object[name] = value(for: property, key: name, words: words, counter: &counter, depth: depth + 1)
                }
                return .object(object)
            case "array" where depth < 8:
                let items = schema["items"] ?? ["type": "string"]
                return .array((0..<3).map { _ in value(for: items, key: key, words: words, counter: &counter, depth: depth + 1) })
            case "integer", "number":
                counter += 1
                return .number(Double(counter))
            case "boolean":
                return .bool(true)
            default:
                // A few words, different for each string, so items of a fan-out differ.
                let start = counter
                counter += 1
                let phrase = (0..<4).map { words[(start + $0) % words.count] }.joined(separator: " ")
                return .string("\(key): \(phrase)")
            }
        }

        private static func encode(_ value: JSONValue) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
        }
    }
}
