import GPUCtlModels

/// A ComfyUI workflow template: an API-format graph and the parameters a user may set, each
/// mapped to one node's input (DESIGN.md, Configuration).
public struct WorkflowTemplate: Sendable, Equatable {
    public enum ParameterType: String, Sendable, Equatable, CaseIterable {
        case string, int, float, bool, image, choice
    }

    public struct Parameter: Sendable, Equatable {
        public var node: String
        public var input: String
        public var type: ParameterType
        public var defaultValue: JSONValue?
        public var required: Bool
        public var description: String
        /// The allowed values of a `choice`.
        public var choices: [String]
    }

    public var name: String
    public var description: String
    public var graph: [String: JSONValue]
    public var parameters: [String: Parameter]
    /// Checkpoint files the graph loads (their VRAM comes from models.json).
    public var checkpoints: [String]
    /// An explicit VRAM estimate, when given.
    public var vram: ByteSize?

    /// The graph with `values` set: every parameter checked for type, required ones present,
    /// unknown names refused with the nearest known one suggested.
    public func graph(with values: [String: JSONValue]) throws(WorkflowError) -> JSONValue {
        var problems: [String] = []
        for key in values.keys.sorted() where parameters[key] == nil {
            let hint = Suggestion.closest(to: key, in: Array(parameters.keys)).map { "; did you mean '\($0)'?" } ?? ""
            problems.append("unknown parameter '\(key)'\(hint)")
        }
        var graph = self.graph
        for (name, parameter) in parameters.sorted(by: { $0.key < $1.key }) {
            guard let value = values[name] ?? parameter.defaultValue else {
                if parameter.required { problems.append("parameter '\(name)' is required (\(parameter.description))") }
                continue
            }
            guard let checked = Self.check(value, parameter) else {
                problems.append("parameter '\(name)' must be \(Self.describe(parameter)), not \(Self.shown(value))")
                continue
            }
            guard case .object(var node)? = graph[parameter.node], case .object(var inputs)? = node["inputs"] else { continue }
            inputs[parameter.input] = checked
            node["inputs"] = .object(inputs)
            graph[parameter.node] = .object(node)
        }
        guard problems.isEmpty else { throw WorkflowError(workflow: name, problems: problems) }
        return .object(graph)
    }

    /// The value as the graph wants it, or nil when it does not fit the parameter's type.
    static func check(_ value: JSONValue, _ parameter: Parameter) -> JSONValue? {
        switch (parameter.type, value) {
        case (.string, .string), (.image, .string), (.bool, .bool): return value
        case (.int, .number(let number)) where number == number.rounded(): return value
        case (.float, .number): return value
        case (.choice, .string(let text)) where parameter.choices.contains(text): return value
        // A CLI sends everything as text: read it as the type asks.
        case (.int, .string(let text)): return Int(text).map { .number(Double($0)) }
        case (.float, .string(let text)): return Double(text).map(JSONValue.number)
        case (.bool, .string(let text)): return ["true": JSONValue.bool(true), "false": .bool(false)][text.lowercased()]
        default: return nil
        }
    }

    /// A wrong value as the person typed it: numbers and text as themselves, else the JSON type.
    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .number: value.jsonText
        case .string(let text): "'\(text)'"
        default: value.typeName
        }
    }

    static func describe(_ parameter: Parameter) -> String {
        switch parameter.type {
        case .string: "a string"
        case .int: "an integer"
        case .float: "a number"
        case .bool: "true or false"
        case .image: "an image file name"
        case .choice: "one of \(parameter.choices.joined(separator: ", "))"
        }
    }
}

/// Everything wrong with a template or with the values given to it, one problem per line.
public struct WorkflowError: Error, Sendable, Equatable, CustomStringConvertible {
    public var workflow: String
    public var problems: [String]

    public init(workflow: String, problems: [String]) {
        self.workflow = workflow
        self.problems = problems
    }

    public var description: String { problems.map { "workflow '\(workflow)': \($0)" }.joined(separator: "\n") }
}
