import Foundation
import GPUCtlModels

/// Reads `NAME.json` (the graph) and `NAME.params.json` (the schema) into a validated template:
/// every mapped node and input exists, defaults have their parameter's type, choices are listed.
public enum WorkflowParser {
    static let schemaFields = ["description", "vram", "checkpoints", "parameters", "$schema"]
    static let parameterFields = ["node", "input", "type", "default", "required", "description", "choices"]

    public static func parse(name: String, graph graphData: Data, schema schemaData: Data) throws(WorkflowError) -> WorkflowTemplate {
        func fail(_ problems: [String]) -> WorkflowError { WorkflowError(workflow: name, problems: problems) }
        let graphValue: JSONValue
        let schema: JSONValue
        do { graphValue = try JSONParser.parse(graphData) } catch { throw fail(["\(name).json is not valid JSON (\(error))"]) }
        do { schema = try JSONParser.parse(schemaData) } catch { throw fail(["\(name).params.json is not valid JSON (\(error))"]) }
        guard let graph = graphValue.objectValue, !graph.isEmpty else {
            throw fail(["\(name).json must be an API-format graph: an object of nodes keyed by id"])
        }
        guard let fields = schema.objectValue else { throw fail(["\(name).params.json must be an object"]) }
        var problems: [String] = []
        for (id, node) in graph.sorted(by: { $0.key < $1.key }) where node["class_type"]?.stringValue == nil || node["inputs"]?.objectValue == nil {
            problems.append("node \(id) needs a class_type and an inputs object (is this the API format, not the UI format?)")
        }
        for key in fields.keys.sorted() where !schemaFields.contains(key) {
            problems.append("unknown field '\(key)'\(Suggestion.closest(to: key, in: schemaFields).map { "; did you mean '\($0)'?" } ?? "")")
        }
        var parameters: [String: WorkflowTemplate.Parameter] = [:]
        for (parameterName, value) in (fields["parameters"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let label = "parameter '\(parameterName)'"
            for key in (value.objectValue ?? [:]).keys.sorted() where !parameterFields.contains(key) {
                problems.append("\(label): unknown field '\(key)'\(Suggestion.closest(to: key, in: parameterFields).map { "; did you mean '\($0)'?" } ?? "")")
            }
            guard let node = value["node"]?.stringValue, let input = value["input"]?.stringValue else {
                problems.append("\(label) needs \"node\" and \"input\"")
                continue
            }
            guard let typeName = value["type"]?.stringValue, let type = WorkflowTemplate.ParameterType(rawValue: typeName) else {
                let types = WorkflowTemplate.ParameterType.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append("\(label): type must be one of \(types)")
                continue
            }
            guard let mapped = graph[node] else {
                problems.append("\(label) maps to node \(node), which is not in the graph")
                continue
            }
            if mapped["inputs"]?[input] == nil {
                let known = (mapped["inputs"]?.objectValue ?? [:]).keys.sorted()
                let has = known.isEmpty ? "which has no inputs" : "which has only \(known.joined(separator: ", "))"
                problems.append("\(label) maps to input '\(input)' of node \(node) (\(mapped["class_type"]?.stringValue ?? "?")), \(has)")
                continue
            }
            let choices: [String] = if case .array(let items)? = value["choices"] { items.compactMap(\.stringValue) } else { [] }
            if type == .choice, choices.isEmpty { problems.append("\(label): a choice needs a \"choices\" list") }
            let parameter = WorkflowTemplate.Parameter(
                node: node, input: input, type: type, defaultValue: value["default"].flatMap { $0 == .null ? nil : $0 },
                required: value["required"] == .bool(true), description: value["description"]?.stringValue ?? "",
                choices: choices)
            if let defaultValue = parameter.defaultValue, WorkflowTemplate.check(defaultValue, parameter) == nil {
                problems.append("\(label): the default \(defaultValue.jsonText) is not \(WorkflowTemplate.describe(parameter))")
            }
            parameters[parameterName] = parameter
        }
        var vram: ByteSize?
        if let text = fields["vram"]?.stringValue {
            guard let size = ByteSize(parsing: text) else {
                throw fail(problems + ["vram '\(text)' is not a size; write it like \"6GiB\""])
            }
            vram = size
        }
        let checkpoints: [String] = if case .array(let items)? = fields["checkpoints"] { items.compactMap(\.stringValue) } else { [] }
        guard problems.isEmpty else { throw fail(problems) }
        return WorkflowTemplate(name: name, description: fields["description"]?.stringValue ?? "", graph: graph,
                                parameters: parameters, checkpoints: checkpoints, vram: vram)
    }
}
