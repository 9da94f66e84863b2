import GPUCtlModels

/// Where a pipeline run stands, as a value: which steps (and fan-out items) ended how, their
/// outputs, and what to do next. The daemon records each unit as it starts and ends and feeds
/// the outcome back; a restart rebuilds this from the store and goes on from the first
/// unfinished unit. The next unit is picked to keep the card on one backend as long as there
/// is work for it (a storyboard writes every caption, then renders every frame).
public struct PipelineProgress: Sendable {
    /// One step, or one item of a fan-out (`item` -1 for a step that runs once).
    public struct Unit: Hashable, Sendable, CustomStringConvertible {
        public var step: String
        public var item: Int
        public init(step: String, item: Int = -1) {
            self.step = step
            self.item = item
        }
        public var description: String { item < 0 ? "step '\(step)'" : "step '\(step)' item \(item)" }
    }

    public enum Outcome: Sendable, Equatable {
        case succeeded(JSONValue)
        case failed(String)
        case skipped(String)
    }

    /// What the caller does next.
    public enum Decision: Sendable, Equatable {
        /// Run the unit with these resolved fields.
        case run(Unit, fields: [String: JSONValue])
        /// Record the unit as ended without running it (it could not be resolved, or what it
        /// needs failed), then ask again.
        case record(Unit, Outcome)
        /// Every unit ended well enough: the run succeeded with this result.
        case finished(JSONValue)
        /// A unit that is not optional failed: the run failed with this sentence.
        case failed(String)
    }

    public let definition: PipelineDefinition
    public let values: PipelineValues
    public private(set) var outcomes: [Unit: Outcome] = [:]
    /// Attempts so far, per unit (a retried step runs again while attempts ≤ its retries).
    public private(set) var attempts: [Unit: Int] = [:]

    /// `inputs` as given; defaults fill the rest.
    public init(definition: PipelineDefinition, inputs: [String: JSONValue]) {
        self.definition = definition
        var filled = inputs
        for (name, input) in definition.inputs where filled[name] == nil { filled[name] = input.defaultValue }
        values = PipelineValues(inputs: filled)
    }

    /// The inputs a run would get, or what is wrong with them (unknown, missing, wrong type).
    public static func check(inputs: [String: JSONValue], of definition: PipelineDefinition) -> [String] {
        var problems: [String] = []
        for name in inputs.keys.sorted() where definition.inputs[name] == nil {
            let hint = Suggestion.closest(to: name, in: definition.inputs.keys.sorted()).map { " (did you mean '\($0)'?)" } ?? ""
            problems.append("pipeline '\(definition.name)' has no input '\(name)'\(hint)")
        }
        for (name, input) in definition.inputs.sorted(by: { $0.key < $1.key }) {
            guard let value = inputs[name] else {
                if input.required { problems.append("input '\(name)' is required (\(input.description))") }
                continue
            }
            if !PipelineParser.literalType(value).fits(input.type) {
                problems.append("input '\(name)' must be \(PipelineChecker.article(input.type)), not \(PipelineChecker.article(PipelineParser.literalType(value)))")
            }
        }
        return problems
    }

    /// Converts CLI text (`--set n=6`) to the input's type; other values pass unchanged.
    public static func typed(_ inputs: [String: JSONValue], for definition: PipelineDefinition) -> [String: JSONValue] {
        inputs.reduce(into: [:]) { result, pair in
            guard case .string(let text) = pair.value, let type = definition.inputs[pair.key]?.type else { return result[pair.key] = pair.value }
            result[pair.key] = switch type {
            case .integer: Int(text).map { .number(Double($0)) } ?? pair.value
            case .number: Double(text).map(JSONValue.number) ?? pair.value
            case .boolean: ["true": JSONValue.bool(true), "false": .bool(false)][text.lowercased()] ?? pair.value
            default: pair.value
            }
        }
    }

    /// A unit started (an attempt counted).
    public mutating func started(_ unit: Unit) {
        attempts[unit, default: 0] += 1
    }

    /// A unit ended. A failure with attempts left is forgotten, so the unit runs again.
    public mutating func ended(_ unit: Unit, _ outcome: Outcome) {
        if case .failed = outcome, let step = definition.step(unit.step), attempts[unit, default: 0] <= step.retries {
            return
        }
        outcomes[unit] = outcome
    }

    /// A unit ended without running (skipped, or its fields could not be filled): recorded as is.
    public mutating func mark(_ unit: Unit, _ outcome: Outcome) {
        outcomes[unit] = outcome
    }

    /// Taken from the store at a restart: what ended stays ended.
    public mutating func restore(_ unit: Unit, outcome: Outcome?, attempts count: Int) {
        attempts[unit] = count
        if let outcome { outcomes[unit] = outcome }
    }

    /// What to do next, preferring a unit on `current` (the backend the card is set up for).
    public func next(current: Backend?) -> Decision {
        var ready: [(Unit, PipelineDefinition.Step)] = []
        for id in definition.order {
            guard let step = definition.step(id) else { continue }
            switch state(of: step) {
            case .done, .waiting: continue
            case .failedHard(let message): return .failed(message)
            case .blocked(let reason):
                return .record(marker(step), .skipped(reason))
            case .units(let units): ready += units.map { ($0, step) }
            case .unresolvable(let unit, let message): return .record(unit, .failed(message))
            }
        }
        guard !ready.isEmpty else {
            if let failure = definition.order.lazy.compactMap({ self.hardFailure(of: $0) }).first { return .failed(failure) }
            return .finished(result())
        }
        let (unit, step) = ready.first { $0.1.kind.backend == current } ?? ready[0]
        var values = self.values
        values.outputs = outputs()
        if unit.item >= 0, let forEach = step.forEach, case .array(let items)? = try? values.resolve(.string(forEach)) {
            values.item = items[unit.item]
            values.index = unit.item
        }
        do {
            var fields: [String: JSONValue] = [:]
            for (key, value) in step.fields {
                // A JSON schema and Ollama options are sent as written.
                fields[key] = key == "format" || key == "options" ? value : try values.resolve(value)
            }
            return .run(unit, fields: fields)
        } catch {
            return .record(unit, .failed("\(unit): \(error.message)"))
        }
    }

    private enum StepState {
        case done, waiting
        case units([Unit])
        case blocked(String)
        case failedHard(String)
        case unresolvable(Unit, String)
    }

    /// A step's mark for the step as a whole: skipped, or a `for_each` that could not be resolved.
    private func marker(_ step: PipelineDefinition.Step) -> Unit { Unit(step: step.id) }

    private func state(of step: PipelineDefinition.Step) -> StepState {
        if let hard = hardFailure(of: step.id) { return .failedHard(hard) }
        if outcomes[marker(step)] != nil, step.forEach != nil || isSkipped(step) { return .done }
        for dependency in step.dependencies.sorted() {
            guard let other = definition.step(dependency) else { continue }
            guard let units = ended(other) else { return .waiting }
            if units.contains(where: { if case .succeeded = $0.1 { false } else { true } }) {
                return ended(step) == nil ? .blocked("skipped: step '\(dependency)', which it needs, did not succeed") : .done
            }
        }
        switch unitsOf(step) {
        case .failure(let failure):
            return .unresolvable(marker(step), failure.message)
        case .success(let units):
            let open = units.filter { outcomes[$0] == nil }
            return open.isEmpty ? .done : .units(open)
        }
    }

    private func isSkipped(_ step: PipelineDefinition.Step) -> Bool {
        if case .skipped? = outcomes[marker(step)] { return true }
        return false
    }

    /// Every unit of a step: one, or one per element of its `for_each` list.
    private func unitsOf(_ step: PipelineDefinition.Step) -> Result<[Unit], Failure> {
        guard let forEach = step.forEach else { return .success([Unit(step: step.id)]) }
        var values = self.values
        values.outputs = outputs()
        do {
            guard case .array(let items) = try values.resolve(.string(forEach)) else {
                return .failure(Failure("for_each \(forEach) is not a list in this run"))
            }
            return .success(items.indices.map { Unit(step: step.id, item: $0) })
        } catch {
            return .failure(Failure("for_each: \(error.message)"))
        }
    }

    struct Failure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// The step's units and how they ended, once all have; nil while any is open.
    private func ended(_ step: PipelineDefinition.Step) -> [(Unit, Outcome)]? {
        if let whole = outcomes[marker(step)], step.forEach != nil || isSkipped(step) { return [(marker(step), whole)] }
        guard case .success(let units) = unitsOf(step) else { return nil }
        var result: [(Unit, Outcome)] = []
        for unit in units {
            guard let outcome = outcomes[unit] else { return nil }
            result.append((unit, outcome))
        }
        return result
    }

    /// The sentence a non-optional step's failure ends the run with.
    private func hardFailure(of id: String) -> String? {
        guard let step = definition.step(id), !step.optional else { return nil }
        for (unit, outcome) in outcomes where unit.step == id {
            if case .failed(let message) = outcome { return "\(unit) failed: \(message)" }
        }
        return nil
    }

    /// Each succeeded step's outputs (a fan-out's as a list, null for an item that failed),
    /// built in run order so a fan-out over nothing is an empty list.
    public func outputs() -> [String: JSONValue] {
        var values = self.values
        for id in definition.order {
            guard let step = definition.step(id) else { continue }
            guard let forEach = step.forEach else {
                if case .succeeded(let value)? = outcomes[Unit(step: id)] { values.outputs[id] = value }
                continue
            }
            let items = outcomes.filter { $0.key.step == id && $0.key.item >= 0 }.sorted { $0.key.item < $1.key.item }
            if !items.isEmpty {
                values.outputs[id] = .array(items.map { if case .succeeded(let value) = $0.value { value } else { .null } })
            } else if outcomes[marker(step)] == nil, case .array(let source)? = try? values.resolve(.string(forEach)), source.isEmpty {
                values.outputs[id] = .array([])
            }
        }
        return values.outputs
    }

    /// The definition's `result` filled in, or every step's outputs; a reference to a step
    /// that did not succeed (an optional one that failed) is null.
    public func result() -> JSONValue {
        var values = self.values
        values.outputs = outputs()
        guard let template = definition.result else { return .object(values.outputs) }
        return Self.lenient(template, values)
    }

    private static func lenient(_ value: JSONValue, _ values: PipelineValues) -> JSONValue {
        switch value {
        case .string: (try? values.resolve(value)) ?? .null
        case .array(let items): .array(items.map { lenient($0, values) })
        case .object(let object): .object(object.mapValues { lenient($0, values) })
        default: value
        }
    }
}
