/// One step of a pipeline run (or one item of a fan-out), as `jobs.get` and `jobs.wait` show it.
public struct PipelineStepInfo: Codable, Sendable, Equatable {
    public var step: String
    /// The fan-out item's position; nil for a step that runs once.
    public var item: Int?
    /// running, succeeded, failed (an optional step's failure too) or skipped (what it needed failed).
    public var state: String
    /// What it is: generate, chat, embed or comfy.
    public var kind: String
    /// The ComfyUI job of a comfy step.
    public var job: String?
    public var attempts: Int
    public var startedAt: String?
    public var endedAt: String?
    public var elapsedMs: Double?
    /// Its outputs once it succeeded (`text`, `json`, `files`, …).
    public var output: JSONValue?
    public var error: String?
    /// Whether the pipeline goes on when it fails.
    public var optional: Bool

    public init(step: String, item: Int?, state: String, kind: String, job: String? = nil, attempts: Int = 0,
                startedAt: String? = nil, endedAt: String? = nil, elapsedMs: Double? = nil, output: JSONValue? = nil,
                error: String? = nil, optional: Bool = false) {
        self.step = step
        self.item = item
        self.state = state
        self.kind = kind
        self.job = job
        self.attempts = attempts
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.elapsedMs = elapsedMs
        self.output = output
        self.error = error
        self.optional = optional
    }
}

/// `pipelines.list`: the definitions of Workflows/pipelines/, and the broken ones skipped.
public struct PipelinesListResult: Codable, Sendable, Equatable {
    public struct Input: Codable, Sendable, Equatable {
        public var name: String
        public var type: String
        public var required: Bool
        public var defaultValue: JSONValue?
        public var description: String

        public init(name: String, type: String, required: Bool, defaultValue: JSONValue?, description: String) {
            self.name = name
            self.type = type
            self.required = required
            self.defaultValue = defaultValue
            self.description = description
        }

        enum CodingKeys: String, CodingKey { case name, type, required, defaultValue = "default", description }
    }

    public struct Step: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        /// The model (Ollama steps) or workflow (comfy steps), as written.
        public var uses: String?
        public var forEach: String?
        public var optional: Bool
        /// The steps it waits for.
        public var after: [String]

        public init(id: String, kind: String, uses: String?, forEach: String?, optional: Bool, after: [String]) {
            self.id = id
            self.kind = kind
            self.uses = uses
            self.forEach = forEach
            self.optional = optional
            self.after = after
        }
    }

    public struct Pipeline: Codable, Sendable, Equatable {
        public var name: String
        public var description: String
        public var inputs: [Input]
        /// In the order they can run.
        public var steps: [Step]

        public init(name: String, description: String, inputs: [Input], steps: [Step]) {
            self.name = name
            self.description = description
            self.inputs = inputs
            self.steps = steps
        }
    }

    /// A definition skipped, with every problem found in it (the same shape as a broken workflow's).
    public typealias Broken = WorkflowsListResult.Broken

    public var directory: String?
    public var pipelines: [Pipeline]
    public var broken: [Broken]

    public init(directory: String?, pipelines: [Pipeline], broken: [Broken]) {
        self.directory = directory
        self.pipelines = pipelines
        self.broken = broken
    }
}

/// `pipeline.run`: a pipeline by name and its input values; queued as one durable job.
public struct PipelineRunParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case pipeline, inputs, requestClass = "class" }

    public var pipeline: String
    public var inputs: [String: JSONValue]
    public var requestClass: JobClass = .batch

    public init(pipeline: String, inputs: [String: JSONValue] = [:]) {
        self.pipeline = pipeline
        self.inputs = inputs
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        pipeline = try params.requiredString(Field.pipeline)
        switch params.value(Field.inputs) {
        case nil: inputs = [:]
        case .object(let object)?: inputs = object
        case let other?: throw params.fail("'inputs' must be an object of input values, not \(other.typeName)")
        }
        if params.value(Field.requestClass) != nil { requestClass = try params.requestClass(Field.requestClass) }
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.pipeline] = .string(pipeline)
        if !inputs.isEmpty { writer[.inputs] = .object(inputs) }
        if requestClass != .batch { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}
