import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC

/// Reads a method's params by name, each mistake answered with -32602 and a sentence that
/// names the method, the field and what it should be.
struct RPCParams {
    let method: String
    let values: [String: JSONValue]

    init(_ call: RPCCall, allowed: [String]) throws(RPCErrorPayload) {
        method = call.method
        switch call.params {
        case nil: values = [:]
        case .object(let object)?: values = object
        case let other?:
            throw RPCErrorPayload(.invalidParams, "invalid params for \(call.method): send an object of named params, not \(other.typeName)")
        }
        for key in values.keys.sorted() where !allowed.contains(key) {
            let hint = Suggestion.closest(to: key, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
            throw RPCErrorPayload(.invalidParams, "invalid params for \(method): unknown field '\(key)'\(hint)")
        }
    }

    func fail(_ detail: String) -> RPCErrorPayload {
        RPCErrorPayload(.invalidParams, "invalid params for \(method): \(detail)")
    }

    func string(_ key: String) throws(RPCErrorPayload) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw fail("'\(key)' must be a string, not \(other.typeName)")
        }
    }

    func requiredString(_ key: String) throws(RPCErrorPayload) -> String {
        guard let text = try string(key), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail("'\(key)' is required")
        }
        return text
    }

    func bool(_ key: String) throws(RPCErrorPayload) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case let other?: throw fail("'\(key)' must be true or false, not \(other.typeName)")
        }
    }

    func integer(_ key: String) throws(RPCErrorPayload) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let number)? where number == number.rounded() && abs(number) < 1e15: return Int(number)
        case let other?: throw fail("'\(key)' must be an integer, not \(other.typeName)")
        }
    }

    func strings(_ key: String) throws(RPCErrorPayload) -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let text)?: return [text]
        case .array(let items)?:
            var result: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw fail("'\(key)' must hold strings only, not \(item.typeName)") }
                result.append(text)
            }
            return result
        case let other?: throw fail("'\(key)' must be a string or a list of strings, not \(other.typeName)")
        }
    }

    func requestClass() throws(RPCErrorPayload) -> JobClass {
        guard let text = try string("class") else { return .interactive }
        guard let value = JobClass(rawValue: text) else { throw fail("'class' must be 'interactive' or 'batch', not '\(text)'") }
        return value
    }

    static let numericOptions = ["temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                                 "frequency_penalty", "num_ctx", "num_predict", "top_k", "seed", "num_batch", "num_gpu",
                                 "num_thread", "repeat_last_n", "main_gpu", "num_keep", "mirostat", "mirostat_eta",
                                 "mirostat_tau"]

    /// Ollama's model options: checked here, so a wrong type is refused before anything loads
    /// (Ollama itself would answer 500 after scheduling).
    func options() throws(RPCErrorPayload) -> [String: JSONValue] {
        guard let value = values["options"], value != .null else { return [:] }
        guard let options = value.objectValue else { throw fail("'options' must be an object like {\"temperature\": 0.2}, not \(value.typeName)") }
        for (key, option) in options.sorted(by: { $0.key < $1.key }) {
            if Self.numericOptions.contains(key), case .number = option {} else if Self.numericOptions.contains(key) {
                throw fail("option '\(key)' must be a number, not \(option.typeName)")
            }
            if key == "stop" {
                switch option {
                case .string: break
                case .array(let items) where items.allSatisfy({ $0.stringValue != nil }): break
                default: throw fail("option 'stop' must be a string or a list of strings")
                }
            }
        }
        return options
    }
}
