import Foundation
import GPUCtlModels

/// Reads `NAME.json` into a `PipelineDefinition`, checking everything that can be known
/// before a run: the shape of every field, that every reference names an input or a step
/// and a field it has, that the steps form a DAG, and that types agree (a `for_each` over an
/// array, an integer where a workflow wants one). Every problem is collected, each naming the
/// step and the reference, so one read of the error fixes the file.
public enum PipelineParser {
    static let commonFields: Set<String> = ["id", "kind", "for_each", "optional", "retries", "after", "description"]
    static let kindFields: [PipelineDefinition.StepKind: (required: [String], optional: [String])] = [
        .generate: (["model", "prompt"], ["system", "format", "options"]),
        .chat: (["model", "messages"], ["format", "options"]),
        .embed: (["model", "input"], ["collection"]),
        .comfy: (["workflow"], ["params"]),
        .speak: (["input"], ["model", "voice", "speed"]),
    ]
    static let inputTypes: [PipelineDefinition.ValueType] = [.string, .integer, .number, .boolean]

    /// Parses and checks one definition; `workflows` are the templates a `comfy` step may name.
    public static func parse(name: String, data: Data, workflows: [String: WorkflowTemplate]) throws(PipelineError) -> PipelineDefinition {
        var problems: [String] = []
        guard let root = try? JSONParser.parse(data), case .object(let object) = root else {
            throw PipelineError(pipeline: name, problems: ["the file is not a JSON object"])
        }
        for key in object.keys.sorted() where !["description", "inputs", "steps", "result"].contains(key) {
            problems.append("unknown key '\(key)'\(Self.hint(key, ["description", "inputs", "steps", "result"]))")
        }
        let inputs = parseInputs(object["inputs"], problems: &problems)
        var steps = parseSteps(object["steps"], problems: &problems)
        var definition = PipelineDefinition(name: name, description: object["description"]?.stringValue ?? "", inputs: inputs,
                                            steps: steps, result: object["result"], order: [], source: root)
        if problems.isEmpty {
            var checker = PipelineChecker(definition: definition, workflows: workflows)
            steps = checker.check()
            problems += checker.problems
            definition.steps = steps
            if problems.isEmpty {
                switch Self.order(steps) {
                case .success(let order): definition.order = order
                case .failure(let cycle): problems.append(cycle.message)
                }
            }
        }
        guard problems.isEmpty else { throw PipelineError(pipeline: name, problems: problems) }
        return definition
    }

    static func hint(_ word: String, _ candidates: [String]) -> String {
        Suggestion.closest(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
    }

    private static func parseInputs(_ value: JSONValue?, problems: inout [String]) -> [String: PipelineDefinition.Input] {
        guard let value else { return [:] }
        guard case .object(let object) = value else {
            problems.append("'inputs' must be an object of named inputs, not \(value.typeName)")
            return [:]
        }
        var inputs: [String: PipelineDefinition.Input] = [:]
        for (name, spec) in object.sorted(by: { $0.key < $1.key }) {
            guard case .object(let fields) = spec else {
                problems.append("input '\(name)' must be an object with a type, not \(spec.typeName)")
                continue
            }
            let typeName = fields["type"]?.stringValue ?? "string"
            guard let type = PipelineDefinition.ValueType(rawValue: typeName), inputTypes.contains(type) else {
                problems.append("input '\(name)' has type '\(typeName)'; use one of \(inputTypes.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            let defaultValue = fields["default"]
            if let defaultValue, !Self.literalType(defaultValue).fits(type) {
                problems.append("input '\(name)' is \(PipelineChecker.article(type)) but its default is \(PipelineChecker.article(Self.literalType(defaultValue)))")
            }
            inputs[name] = .init(name: name, type: type, required: fields["required"]?.boolValue ?? (defaultValue == nil),
                                 defaultValue: defaultValue, description: fields["description"]?.stringValue ?? "")
        }
        return inputs
    }

    private static func parseSteps(_ value: JSONValue?, problems: inout [String]) -> [PipelineDefinition.Step] {
        guard case .array(let items)? = value, !items.isEmpty else {
            problems.append("'steps' must be a list of at least one step")
            return []
        }
        var steps: [PipelineDefinition.Step] = []
        for (position, item) in items.enumerated() {
            guard case .object(let fields) = item else {
                problems.append("step \(position + 1) must be an object, not \(item.typeName)")
                continue
            }
            guard let id = fields["id"]?.stringValue, Self.isIdentifier(id) else {
                problems.append("step \(position + 1) needs an 'id' of letters, digits and '_' (it is how later steps name it)")
                continue
            }
            if steps.contains(where: { $0.id == id }) { problems.append("step '\(id)' is defined twice") }
            let kinds = PipelineDefinition.StepKind.allCases.map(\.rawValue)
            guard let kindName = fields["kind"]?.stringValue, let kind = PipelineDefinition.StepKind(rawValue: kindName) else {
                problems.append("step '\(id)': 'kind' must be one of \(kinds.joined(separator: ", "))\(Self.hint(fields["kind"]?.stringValue ?? "", kinds))")
                continue
            }
            let (required, optional) = kindFields[kind]!
            for key in fields.keys.sorted() where !commonFields.contains(key) && !required.contains(key) && !optional.contains(key) {
                problems.append("step '\(id)': a \(kind.rawValue) step has no field '\(key)'\(Self.hint(key, required + optional + Array(commonFields)))")
            }
            for key in required where fields[key] == nil || fields[key] == .null {
                problems.append("step '\(id)': a \(kind.rawValue) step needs '\(key)'")
            }
            var forEach: String?
            if let value = fields["for_each"] {
                if case .string(let text) = value { forEach = text } else { problems.append("step '\(id)': 'for_each' must be a reference like \"{{steps.plan.json.shots}}\"") }
            }
            let retries = fields["retries"].map { value -> Int in
                guard case .number(let number) = value, number == number.rounded(), (0...5).contains(number) else {
                    problems.append("step '\(id)': 'retries' must be a whole number from 0 to 5")
                    return 0
                }
                return Int(number)
            } ?? 0
            if let optional = fields["optional"], optional.boolValue == nil { problems.append("step '\(id)': 'optional' must be true or false") }
            var after: [String] = []
            if let value = fields["after"] {
                if case .array(let names) = value, names.allSatisfy({ $0.stringValue != nil }) { after = names.compactMap(\.stringValue) }
                else { problems.append("step '\(id)': 'after' must be a list of step ids") }
            }
            var own = fields
            for key in commonFields { own[key] = nil }
            steps.append(.init(id: id, kind: kind, fields: own, forEach: forEach, optional: fields["optional"]?.boolValue ?? false,
                               retries: retries, after: after))
        }
        return steps
    }

    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64 && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }

    static func literalType(_ value: JSONValue) -> PipelineDefinition.ValueType {
        switch value {
        case .string: .string
        case .number(let number): number == number.rounded() ? .integer : .number
        case .bool: .boolean
        case .array: .array
        case .object: .object
        case .null: .any
        }
    }

    struct Cycle: Error { var message: String }

    /// The steps in dependency order (written order where free), or the cycle that prevents one.
    static func order(_ steps: [PipelineDefinition.Step]) -> Result<[String], Cycle> {
        var done: [String] = []
        var remaining = steps
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { $0.dependencies.isSubset(of: Set(done)) }) else {
                return .failure(Cycle(message: "steps \(cycle(in: remaining).joined(separator: " → ")) wait for each other: a pipeline's steps must not form a cycle"))
            }
            done.append(remaining.remove(at: next).id)
        }
        return .success(done)
    }

    /// One cycle among steps none of which can run, as ids from a step back to itself.
    private static func cycle(in steps: [PipelineDefinition.Step]) -> [String] {
        let byID = Dictionary(uniqueKeysWithValues: steps.map { ($0.id, $0) })
        var path: [String] = [steps[0].id]
        while true {
            let current = byID[path.last!]!
            guard let next = current.dependencies.sorted().first(where: { byID[$0] != nil }) else { return path }
            if let start = path.firstIndex(of: next) { return Array(path[start...]) + [next] }
            path.append(next)
        }
    }
}
