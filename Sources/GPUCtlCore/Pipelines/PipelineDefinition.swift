import GPUCtlModels

/// A pipeline as `Workflows/pipelines/NAME.json` defines it: named inputs and steps (an LLM
/// writes, ComfyUI renders, texts are embedded) whose parameters reference the inputs and
/// earlier steps' outputs (`{{input.topic}}`, `{{steps.scene.json.image_prompt}}`). Parsed and
/// checked whole by `PipelineParser`: a definition that exists is one whose references all
/// resolve, whose steps form a DAG and whose types agree.
public struct PipelineDefinition: Sendable, Equatable {
    /// What a value is known to be before the pipeline runs; `any` where a reply's shape is
    /// not declared.
    public enum ValueType: String, Sendable, Equatable, CaseIterable {
        case string, integer, number, boolean, array, object, any

        /// Whether a value of this type can stand where `wanted` is expected.
        func fits(_ wanted: ValueType) -> Bool {
            self == wanted || self == .any || wanted == .any || (self == .integer && wanted == .number)
        }

        /// Can be written into text (`"a {{input.n}} b"`).
        var isScalar: Bool { self != .array && self != .object }
    }

    /// One named input: its type, whether it must be given, its default and what it is for.
    public struct Input: Sendable, Equatable {
        public var name: String
        public var type: ValueType
        public var required: Bool
        public var defaultValue: JSONValue?
        public var description: String
    }

    /// What a step does.
    public enum StepKind: String, Sendable, Equatable, CaseIterable {
        /// Ollama's generate: `model`, `prompt`, optional `system`, `format` (`"json"` or a JSON
        /// schema: the reply is then also `json`), `options`.
        case generate
        /// Ollama's chat: `model`, `messages` (`role` and `content` each), optional `format`, `options`.
        case chat
        /// Ollama's embed: `model`, `input` (a text or a list); with `collection`, the texts
        /// are stored there too (collections.add).
        case embed
        /// A ComfyUI job from a workflow template: `workflow` and its `params`.
        case comfy
        /// Text to speech on the TTS server: `input`, optional `model` (a catalog `tts`
        /// model), `voice`, `speed`; the audio is written to the run's output folder as WAV.
        case speak

        /// The backend whose card time the step takes: what the run groups steps by.
        public var backend: Backend {
            switch self {
            case .comfy: .comfyui
            case .speak: .tts
            case .generate, .chat, .embed: .ollama
            }
        }
    }

    /// One step: its kind's fields (templates), and how it runs.
    public struct Step: Sendable, Equatable {
        public var id: String
        public var kind: StepKind
        /// The step's own fields as written (`prompt`, `workflow`, `params`, …), references unresolved.
        public var fields: [String: JSONValue]
        /// An array to run the step once per element of (`{{item}}`, `{{index}}` inside it).
        public var forEach: String?
        /// Its failure is recorded and the pipeline goes on.
        public var optional: Bool
        /// Runs again this many times when it fails (a reply that is not the JSON asked for).
        public var retries: Int
        /// Steps it waits for besides those it references.
        public var after: [String]
        /// Every step it waits for: referenced or named in `after`.
        public internal(set) var dependencies: Set<String> = []

        /// The model of an Ollama step.
        public var model: String? { fields["model"]?.stringValue }
        /// Whether its reply is JSON (`format` given).
        public var repliesInJSON: Bool { fields["format"] != nil }
    }

    public var name: String
    public var description: String
    public var inputs: [String: Input]
    /// In the order written.
    public var steps: [Step]
    /// What a run returns: a template over the inputs and the steps' outputs; by default every
    /// step's outputs.
    public var result: JSONValue?
    /// The steps in an order that runs each after what it depends on (written order kept
    /// where free).
    public var order: [String]
    /// The document it was parsed from, as read: what a run stores, so it resumes with exactly
    /// the definition that was checked.
    public var source: JSONValue = .null

    public func step(_ id: String) -> Step? { steps.first { $0.id == id } }
}

/// What is wrong with one pipeline definition: each problem names its step and reference.
public struct PipelineError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pipeline: String
    public var problems: [String]

    public init(pipeline: String, problems: [String]) {
        self.pipeline = pipeline
        self.problems = problems
    }

    public var description: String { problems.map { "pipeline '\(pipeline)' (\(pipeline).json): \($0)" }.joined(separator: "\n") }
}
