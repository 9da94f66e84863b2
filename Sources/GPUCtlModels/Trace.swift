import Foundation

/// A trace: what arrived at a GPU box and when, with no prompt text, only sizes and timings.
/// `gpuctl-sim` replays one against several policies; `gpuctl trace record` writes one from a
/// live daemon. On disk it is JSON Lines: the header first, then one arrival per line (sorted
/// by time when read: a recording writes each as its work ends) (docs/DESIGN.md, Arbitration
/// simulator). In a `trace.arrival` event, `at` is the arrival's Unix time instead.
public enum Trace {
    /// The first line: the models and workflows the arrivals name.
    public struct Header: Codable, Sendable, Equatable {
        public var trace: String
        /// A sentence on what the trace is.
        public var description: String?
        /// The card it is meant for, when it says (gpuctl-sim's `--card` wins).
        public var card: ByteSize?
        public var models: [Model]
        public var workflows: [Workflow]

        public init(trace: String, description: String? = nil, card: ByteSize? = nil, models: [Model], workflows: [Workflow]) {
            self.trace = trace
            self.description = description
            self.card = card
            self.models = models
            self.workflows = workflows
        }
    }

    /// An Ollama model: its size on the card and how fast it reads and writes tokens.
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: ByteSize
        /// Output tokens per second while generating.
        public var tokensPerSecond: Double
        /// Prompt tokens per second while reading the prompt.
        public var promptTokensPerSecond: Double
        /// The model a one-LLM broker restores when idle.
        public var isDefault: Bool?

        public init(name: String, bytes: ByteSize, tokensPerSecond: Double = 40, promptTokensPerSecond: Double = 1_000,
                    isDefault: Bool? = nil) {
            self.name = name
            self.bytes = bytes
            self.tokensPerSecond = tokensPerSecond
            self.promptTokensPerSecond = promptTokensPerSecond
            self.isDefault = isDefault
        }
    }

    /// A ComfyUI workflow: what its template declares, and what it really takes.
    public struct Workflow: Codable, Sendable, Equatable {
        public var name: String
        /// The checkpoints it loads (names), which stay in ComfyUI's cache after it.
        public var checkpoints: [String]
        /// Their bytes on the card: what the catalog declares and admission charges at first.
        public var checkpointBytes: ByteSize
        /// What sampling takes on top (activations, VAE decode): unknown to the catalog.
        public var activationBytes: ByteSize
        public var secondsPerStep: Double

        public init(name: String, checkpoints: [String], checkpointBytes: ByteSize, activationBytes: ByteSize,
                    secondsPerStep: Double) {
            self.name = name
            self.checkpoints = checkpoints
            self.checkpointBytes = checkpointBytes
            self.activationBytes = activationBytes
            self.secondsPerStep = secondsPerStep
        }
    }

    /// One arrival: an Ollama request (`model`, token counts) or a ComfyUI job (`workflow`, `steps`).
    public struct Arrival: Codable, Sendable, Equatable {
        /// Seconds since the trace began.
        public var at: Double
        public var model: String?
        public var promptTokens: Int?
        public var outputTokens: Int?
        public var workflow: String?
        public var steps: Int?
        public var requestClass: JobClass
        /// Who sent it (an editor, a script): kept for reading, not used by the policies.
        public var client: String?
        /// How long its work ran once let in, as a recording measured it: replaces the time
        /// from token counts or steps (a job's includes what ComfyUI spent loading).
        public var serviceSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case at, model, promptTokens, outputTokens, workflow, steps, client, serviceSeconds
            case requestClass = "class"
        }

        public static func ollama(at: Double, model: String, promptTokens: Int, outputTokens: Int,
                                  requestClass: JobClass = .interactive, client: String? = nil) -> Arrival {
            Arrival(at: at, model: model, promptTokens: promptTokens, outputTokens: outputTokens, requestClass: requestClass,
                    client: client)
        }

        public static func comfy(at: Double, workflow: String, steps: Int, requestClass: JobClass = .batch,
                                 client: String? = nil) -> Arrival {
            Arrival(at: at, workflow: workflow, steps: steps, requestClass: requestClass, client: client)
        }

        public init(at: Double, model: String? = nil, promptTokens: Int? = nil, outputTokens: Int? = nil,
                    workflow: String? = nil, steps: Int? = nil, requestClass: JobClass, client: String? = nil,
                    serviceSeconds: Double? = nil) {
            self.at = at
            self.model = model
            self.promptTokens = promptTokens
            self.outputTokens = outputTokens
            self.workflow = workflow
            self.steps = steps
            self.requestClass = requestClass
            self.client = client
            self.serviceSeconds = serviceSeconds
        }
    }
}
