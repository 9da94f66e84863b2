import Foundation
import GPUCtlModels

/// Everything wrong with a models.json, one problem per line, each naming the file, the
/// model and the field.
public struct CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var problems: [String]

    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}

/// Reads and validates models.json. Pure: the caller reads the file.
///
/// Shape: `{"models": {"NAME": {"backend": "ollama", "vram": "6.2GiB", ...}}}`. Unknown fields
/// are errors (with the nearest known field suggested), so a typo never silently drops a policy.
public enum CatalogParser {
    static let topLevelFields = ["models", "$schema", "description"]
    static let modelFields = ["backend", "vram", "priority", "pinned", "keep_alive", "options",
                              "aliases", "fallback", "description"]

    public static func parse(_ data: Data, file: String) throws(CatalogError) -> Catalog {
        let root: JSONValue
        do {
            root = try JSONParser.parse(data)
        } catch {
            throw CatalogError(file: file, problems: ["is not valid JSON (\(error.description))"])
        }
        guard let top = root.objectValue else {
            throw CatalogError(file: file, problems: ["the top level must be an object with a \"models\" object, not \(root.typeName)"])
        }
        var problems: [String] = []
        for key in top.keys.sorted() where !topLevelFields.contains(key) {
            problems.append("unknown top-level field '\(key)'\(hint(key, topLevelFields))")
        }
        guard let modelsValue = top["models"] else {
            throw CatalogError(file: file, problems: problems + ["missing the \"models\" object"])
        }
        guard let entries = modelsValue.objectValue else {
            throw CatalogError(file: file, problems: problems + ["\"models\" must be an object keyed by model name, not \(modelsValue.typeName)"])
        }
        var models: [ModelSpec] = []
        for name in entries.keys.sorted() {
            if let model = parseModel(name: name, value: entries[name]!, problems: &problems) {
                models.append(model)
            }
        }
        checkReferences(models, problems: &problems)
        guard problems.isEmpty else { throw CatalogError(file: file, problems: problems) }
        return Catalog(models: models)
    }

    private static func parseModel(name: String, value: JSONValue, problems: inout [String]) -> ModelSpec? {
        let label = "model '\(name)'"
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            problems.append("a model has an empty name")
            return nil
        }
        guard let fields = value.objectValue else {
            problems.append("\(label): must be an object, not \(value.typeName)")
            return nil
        }
        let before = problems.count
        for key in fields.keys.sorted() where !modelFields.contains(key) {
            problems.append("\(label): unknown field '\(key)'\(hint(key, modelFields))")
        }
        var backend = Backend.ollama
        switch fields["backend"] {
        case .string(let text)?:
            if let parsed = Backend(rawValue: text) { backend = parsed } else {
                problems.append("\(label): field 'backend' must be \"ollama\", \"comfyui\" or \"tts\", not \"\(text)\"")
            }
        case nil: problems.append("\(label): field 'backend' is required (\"ollama\", \"comfyui\" or \"tts\")")
        case let other?: problems.append("\(label): field 'backend' must be a string, not \(other.typeName)")
        }
        var vram = ByteSize(bytes: 0)
        switch fields["vram"] {
        case .string(let text)?:
            if let size = ByteSize(parsing: text), size.bytes > 0 { vram = size } else {
                problems.append("\(label): field 'vram' is \"\(text)\"; write a size like \"6.2GiB\" or \"512MiB\"")
            }
        case .number(let number)? where number > 0 && number == number.rounded() && number < 0x1p64:
            vram = ByteSize(bytes: UInt64(number))
        case nil: problems.append("\(label): field 'vram' is required (e.g. \"6.2GiB\")")
        case let other?: problems.append("\(label): field 'vram' must be a size string like \"6.2GiB\", not \(other.typeName)")
        }
        var priority = ModelSpec.defaultPriority
        if let value = fields["priority"] {
            if case .number(let number) = value, number == number.rounded(), (0...100).contains(number) {
                priority = Int(number)
            } else {
                problems.append("\(label): field 'priority' must be a whole number from 0 to 100")
            }
        }
        var pinned = false
        if let value = fields["pinned"] {
            if case .bool(let flag) = value { pinned = flag } else {
                problems.append("\(label): field 'pinned' must be true or false, not \(value.typeName)")
            }
        }
        let keepAlive = parseKeepAlive(fields["keep_alive"], backend: backend, label: label, problems: &problems)
        var options: [String: JSONValue] = [:]
        if let value = fields["options"] {
            if let object = value.objectValue, backend == .ollama { options = object } else if backend != .ollama {
                problems.append("\(label): field 'options' applies to ollama models only")
            } else {
                problems.append("\(label): field 'options' must be an object like {\"num_ctx\": 8192}, not \(value.typeName)")
            }
        }
        var aliases: [String] = []
        if let value = fields["aliases"] {
            if case .array(let items) = value, items.allSatisfy({ $0.stringValue.map { !$0.isEmpty } ?? false }) {
                aliases = items.compactMap(\.stringValue)
            } else {
                problems.append("\(label): field 'aliases' must be a list of non-empty strings")
            }
        }
        var fallback: String?
        if let value = fields["fallback"] {
            if let text = value.stringValue, !text.isEmpty { fallback = text } else {
                problems.append("\(label): field 'fallback' must be the name of another model")
            }
        }
        guard problems.count == before else { return nil }
        return ModelSpec(name: name, backend: backend, vram: vram, priority: priority, pinned: pinned,
                         keepAlive: keepAlive, options: options, aliases: aliases, fallback: fallback)
    }

    private static func parseKeepAlive(_ value: JSONValue?, backend: Backend, label: String,
                                       problems: inout [String]) -> KeepAlive? {
        guard let value else { return nil }
        guard backend == .ollama else {
            problems.append("\(label): field 'keep_alive' applies to ollama models only")
            return nil
        }
        switch value {
        case .number(let seconds): return KeepAlive(seconds: seconds)
        case .string(let text):
            if let parsed = KeepAlive(parsing: text) { return parsed }
            problems.append("\(label): field 'keep_alive' is \"\(text)\"; write a duration with a unit like \"30m\" or \"1h\", or -1 for forever")
        default:
            problems.append("\(label): field 'keep_alive' must be a duration string like \"30m\" or a number of seconds, not \(value.typeName)")
        }
        return nil
    }

    /// Aliases unique and distinct from names; fallbacks name another model of the same backend, without cycles.
    private static func checkReferences(_ models: [ModelSpec], problems: inout [String]) {
        let byName = Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0) })
        var owner: [String: String] = [:]
        for model in models {
            for alias in model.aliases {
                if byName[alias] != nil {
                    problems.append("model '\(model.name)': alias '\(alias)' is already the name of a model")
                } else if let other = owner[alias] {
                    problems.append("model '\(model.name)': alias '\(alias)' is also an alias of '\(other)'")
                } else {
                    owner[alias] = model.name
                }
            }
        }
        for model in models {
            guard let fallback = model.fallback else { continue }
            guard let target = byName[fallback] else {
                problems.append("model '\(model.name)': field 'fallback' names '\(fallback)', which is not in the catalog\(hint(fallback, Array(byName.keys)))")
                continue
            }
            if target.name == model.name {
                problems.append("model '\(model.name)': field 'fallback' names the model itself")
            } else if target.backend != model.backend {
                problems.append("model '\(model.name)': field 'fallback' names '\(fallback)', a \(target.backend.rawValue) model; a fallback must use the same backend")
            }
            var seen: Set<String> = [model.name]
            var next = model.fallback
            while let current = next, let spec = byName[current] {
                if seen.contains(current) {
                    problems.append("model '\(model.name)': its fallbacks form a cycle through '\(current)'")
                    break
                }
                seen.insert(current)
                next = spec.fallback
            }
        }
    }

    private static func hint(_ word: String, _ candidates: [String]) -> String {
        Suggestion.closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }
}
