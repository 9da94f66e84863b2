import GPUCtlModels

/// The semantic half of `PipelineParser`: resolves every reference of every step (and of the
/// result) to a type, records what each step waits for, and checks the types where they meet
/// (a `for_each` source, text with a reference inside, a workflow parameter).
struct PipelineChecker {
    typealias ValueType = PipelineDefinition.ValueType
    let definition: PipelineDefinition
    let workflows: [String: WorkflowTemplate]
    private(set) var problems: [String] = []

    init(definition: PipelineDefinition, workflows: [String: WorkflowTemplate]) {
        self.definition = definition
        self.workflows = workflows
    }

    /// The steps with their dependencies filled in; `problems` says what is wrong.
    mutating func check() -> [PipelineDefinition.Step] {
        var steps = definition.steps
        for index in steps.indices {
            steps[index].dependencies = check(steps[index])
        }
        if let result = definition.result {
            for (path, text) in PipelineTemplate.strings(in: result, at: "result") {
                _ = checkTemplate(text, at: path, in: nil, item: nil, dependencies: nil)
            }
        }
        return steps
    }

    /// A fan-out's element: its type, and its schema when the source is a described reply.
    struct Element {
        var type: ValueType
        var schema: JSONValue?
    }

    private mutating func check(_ step: PipelineDefinition.Step) -> Set<String> {
        var dependencies = Set(step.after)
        for name in step.after where definition.step(name) == nil {
            problems.append("step '\(step.id)': 'after' names no step '\(name)'\(PipelineParser.hint(name, definition.steps.map(\.id)))")
        }
        var element: Element?
        if let forEach = step.forEach {
            let pieces = PipelineTemplate.pieces(forEach)
            if pieces.count == 1, case .reference(let reference) = pieces[0] {
                if case .item = reference { problems.append("step '\(step.id)': for_each cannot be {{item}}: fan-outs do not nest") }
                else if let (type, schema) = resolve(reference, in: step, item: nil, dependencies: &dependencies) {
                    if type.fits(.array) { element = Element(type: schema?["items"].map(Self.schemaType) ?? .any, schema: schema?["items"]) }
                    else { problems.append("step '\(step.id)': for_each \(reference) is \(Self.article(type)), not an array") }
                }
            } else {
                problems.append("step '\(step.id)': for_each takes one reference to an array, like \"{{steps.plan.json.shots}}\", not '\(forEach)'")
            }
        }
        let item = element ?? (step.forEach == nil ? nil : Element(type: .any))
        if step.kind == .comfy {
            checkComfy(step, item: item, dependencies: &dependencies)
        }
        for key in step.fields.keys.sorted() where !(step.kind == .comfy && key == "params") {
            for (path, text) in PipelineTemplate.strings(in: step.fields[key]!, at: key) {
                // A JSON schema's own strings are not templates.
                if key == "format" || key == "options" { continue }
                _ = checkTemplate(text, at: path, in: step, item: item, dependencies: &dependencies)
            }
        }
        if case .string(let format)? = step.fields["format"], format != "json" {
            problems.append("step '\(step.id)': 'format' must be \"json\" or a JSON schema object, not '\(format)'")
        }
        dependencies.remove(step.id)
        return dependencies
    }

    private mutating func checkComfy(_ step: PipelineDefinition.Step, item: Element?, dependencies: inout Set<String>) {
        guard let name = step.fields["workflow"]?.stringValue else {
            problems.append("step '\(step.id)': 'workflow' must be the name of a workflow in Workflows/")
            return
        }
        guard let template = workflows[name] else {
            problems.append("step '\(step.id)': no workflow '\(name)' in Workflows/\(PipelineParser.hint(name, workflows.keys.sorted()))")
            return
        }
        let params = step.fields["params"]?.objectValue ?? [:]
        if let value = step.fields["params"], value.objectValue == nil { problems.append("step '\(step.id)': 'params' must be an object") }
        for (key, value) in params.sorted(by: { $0.key < $1.key }) {
            guard let parameter = template.parameters[key] else {
                problems.append("step '\(step.id)': workflow '\(name)' has no parameter '\(key)'\(PipelineParser.hint(key, template.parameters.keys.sorted()))")
                continue
            }
            let where_ = "step '\(step.id)': params.\(key)"
            guard case .string(let text) = value, text.contains("{{") else {
                if WorkflowTemplate.check(value, parameter) == nil {
                    problems.append("\(where_) must be \(WorkflowTemplate.describe(parameter)), not \(WorkflowTemplate.shown(value))")
                }
                continue
            }
            guard let type = checkTemplate(text, at: "params.\(key)", in: step, item: item, dependencies: &dependencies) else { continue }
            let wanted: ValueType = switch parameter.type {
            case .int: .integer
            case .float: .number
            case .bool: .boolean
            case .string, .image, .choice: .string
            }
            // Any scalar reads as text; numbers and flags must come as themselves.
            if !(wanted == .string ? type.isScalar : type.fits(wanted)) {
                problems.append("\(where_) is \(Self.article(type)) but workflow '\(name)' wants \(WorkflowTemplate.describe(parameter))")
            }
        }
        for (key, parameter) in template.parameters.sorted(by: { $0.key < $1.key })
        where parameter.required && parameter.defaultValue == nil && params[key] == nil {
            problems.append("step '\(step.id)': workflow '\(name)' needs parameter '\(key)' (\(parameter.description))")
        }
    }

    /// Checks one template string and returns the type it yields: the reference's own when the
    /// string is exactly one reference, else a string (every reference in it must be a scalar).
    private mutating func checkTemplate(_ text: String, at path: String, in step: PipelineDefinition.Step?, item: Element?,
                                        dependencies: inout Set<String>) -> ValueType? {
        let pieces = PipelineTemplate.pieces(text)
        let owner = step.map { "step '\($0.id)': \(path)" } ?? path
        var whole: ValueType?
        var ok = true
        for piece in pieces {
            switch piece {
            case .text: continue
            case .malformed(let bad):
                problems.append("\(owner): '\(bad)' is not a reference; write {{input.NAME}}, {{steps.ID.FIELD}}, {{item}} or {{index}}")
                ok = false
            case .reference(let reference):
                guard let (type, _) = resolve(reference, in: step, item: item, dependencies: &dependencies) else {
                    ok = false
                    continue
                }
                if pieces.count == 1 { whole = type }
                else if !type.isScalar {
                    problems.append("\(owner): \(reference) is \(Self.article(type)) and cannot be written into text; make it the whole value")
                    ok = false
                }
            }
        }
        return ok ? whole ?? .string : nil
    }

    private mutating func checkTemplate(_ text: String, at path: String, in step: PipelineDefinition.Step?, item: Element?,
                                        dependencies: Set<String>?) -> ValueType? {
        var scratch = dependencies ?? []
        return checkTemplate(text, at: path, in: step, item: item, dependencies: &scratch)
    }

    /// The type (and schema, for a described reply) of a reference, or nil with the problem recorded.
    private mutating func resolve(_ reference: PipelineReference, in step: PipelineDefinition.Step?, item: Element?,
                                  dependencies: inout Set<String>) -> (ValueType, JSONValue?)? {
        let owner = step.map { "step '\($0.id)'" } ?? "result"
        switch reference {
        case .input(let name):
            guard let input = definition.inputs[name] else {
                problems.append("\(owner): \(reference) names no input '\(name)'\(PipelineParser.hint(name, definition.inputs.keys.sorted()))")
                return nil
            }
            return (input.type, nil)
        case .index:
            guard item != nil else {
                problems.append("\(owner): \(reference) is only known inside a step with for_each")
                return nil
            }
            return (.integer, nil)
        case .item(let path):
            guard let item else {
                problems.append("\(owner): \(reference) is only known inside a step with for_each")
                return nil
            }
            return follow(path, type: item.type, schema: item.schema, reference: reference, owner: owner)
        case .step(let id, let field, let path):
            guard let target = definition.step(id) else {
                problems.append("\(owner): \(reference) names no step '\(id)'\(PipelineParser.hint(id, definition.steps.map(\.id)))")
                return nil
            }
            if id == step?.id {
                problems.append("\(owner): \(reference) refers to the step itself")
                return nil
            }
            dependencies.insert(id)
            let fields = Self.outputs(of: target)
            guard let type = fields[field] else {
                let why = field == "json" && (target.kind == .generate || target.kind == .chat) ? " (its reply is text: give it a 'format' to ask for JSON)" : ""
                problems.append("\(owner): \(reference): step '\(id)' has no output '\(field)'\(why); it has \(fields.keys.sorted().joined(separator: ", "))")
                return nil
            }
            if target.forEach != nil {
                guard path.isEmpty else {
                    problems.append("\(owner): \(reference): step '\(id)' runs once per item, so its \(field) is a list; use it whole")
                    return nil
                }
                return (field == "count" ? .integer : .array, nil)
            }
            let schema = field == "json" ? target.fields["format"].flatMap { $0.objectValue != nil ? $0 : nil } : nil
            return follow(path, type: type, schema: schema, reference: reference, owner: owner)
        }
    }

    /// Walks `path` into a value of `type` described by `schema`.
    private mutating func follow(_ path: [String], type: ValueType, schema: JSONValue?, reference: PipelineReference,
                                 owner: String) -> (ValueType, JSONValue?)? {
        var type = type
        var schema = schema
        for component in path {
            switch type {
            case .any:
                schema = nil
            case .object:
                if let properties = schema?["properties"]?.objectValue {
                    guard let next = properties[component] else {
                        problems.append("\(owner): \(reference): the format has no field '\(component)'\(PipelineParser.hint(component, properties.keys.sorted()))")
                        return nil
                    }
                    schema = next
                    type = Self.schemaType(next)
                } else {
                    (type, schema) = (.any, nil)
                }
            case .array:
                guard Int(component) != nil else {
                    problems.append("\(owner): \(reference): '\(component)' is not an index into a list")
                    return nil
                }
                schema = schema?["items"]
                type = schema.map(Self.schemaType) ?? .any
            default:
                problems.append("\(owner): \(reference): '\(component)' goes into \(Self.article(type)), which has no fields")
                return nil
            }
        }
        return (type, schema)
    }

    /// What a step produces, by output name.
    static func outputs(of step: PipelineDefinition.Step) -> [String: ValueType] {
        var fields: [String: ValueType] = switch step.kind {
        case .generate, .chat:
            step.repliesInJSON ? ["text": .string, "json": step.fields["format"]?.objectValue.map { schemaType(.object($0)) } ?? .any] : ["text": .string]
        case .embed: step.fields["collection"] == nil ? ["vectors": .array] : ["vectors": .array, "ids": .array]
        case .comfy: ["files": .array, "file": .string, "bytes": .integer]
        case .speak: ["file": .string, "bytes": .integer, "seconds": .number]
        }
        if step.forEach != nil { fields["count"] = .integer }
        return fields
    }

    /// A JSON schema's `type`, as far as it says.
    static func schemaType(_ schema: JSONValue) -> ValueType {
        switch schema["type"]?.stringValue {
        case "string": .string
        case "integer": .integer
        case "number": .number
        case "boolean": .boolean
        case "array": .array
        case "object": .object
        default: schema["properties"] != nil ? .object : schema["items"] != nil ? .array : .any
        }
    }

    static func article(_ type: ValueType) -> String {
        switch type {
        case .integer, .array, .object: "an \(type.rawValue)"
        case .any: "a value of any type"
        default: "a \(type.rawValue)"
        }
    }
}
