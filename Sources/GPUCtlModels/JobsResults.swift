/// One file a job produced, downloaded from ComfyUI into the job's output folder.
public struct JobOutput: Codable, Sendable, Equatable {
    /// The output node that produced it.
    public var node: String
    /// Where it is on this machine.
    public var path: String
    public var bytes: Int
    public var contentType: String
    /// ComfyUI's own name for it (`filename`, `subfolder`, `type` of /view).
    public var filename: String
    public var subfolder: String
    public var type: String

    public init(node: String, path: String, bytes: Int, contentType: String, filename: String, subfolder: String, type: String) {
        self.node = node
        self.path = path
        self.bytes = bytes
        self.contentType = contentType
        self.filename = filename
        self.subfolder = subfolder
        self.type = type
    }
}

/// Where a running job is: the node ComfyUI executes and its sampler's steps.
public struct JobProgress: Codable, Sendable, Equatable {
    public var node: String?
    /// The node's class, from the graph.
    public var nodeType: String?
    public var value: Int?
    public var max: Int?
    /// Nodes finished (cached ones included) out of the graph's nodes.
    public var nodesDone: Int
    public var nodesTotal: Int

    public init(node: String? = nil, nodeType: String? = nil, value: Int? = nil, max: Int? = nil, nodesDone: Int = 0,
                nodesTotal: Int = 0) {
        self.node = node
        self.nodeType = nodeType
        self.value = value
        self.max = max
        self.nodesDone = nodesDone
        self.nodesTotal = nodesTotal
    }
}

/// One state change of a job, as recorded.
public struct JobStateChange: Codable, Sendable, Equatable {
    public var at: String
    public var state: String
    public var message: String?

    public init(at: String, state: String, message: String? = nil) {
        self.at = at
        self.state = state
        self.message = message
    }
}

/// A job as `comfy.submit`, `jobs.get`, `jobs.list`, `jobs.cancel` and `jobs.wait` return it.
public struct JobInfo: Codable, Sendable, Equatable {
    public var id: String
    /// queued, admitted, submitted, running, succeeded, failed or cancelled.
    public var state: String
    public var jobClass: String
    /// The workflow template; nil for a raw graph.
    public var workflow: String?
    /// The prompt_id gpuctld gave ComfyUI.
    public var promptId: String?
    /// How many times it was submitted to ComfyUI.
    public var attempts: Int
    /// The VRAM it is charged.
    public var vram: ByteSize
    public var timeoutSeconds: Double
    public var createdAt: String
    public var updatedAt: String
    public var error: String?
    /// Every file it produced, once it succeeded.
    public var outputs: [JobOutput]?
    /// Live, while it runs.
    public var progress: JobProgress?
    /// Its states so far (jobs.get only).
    public var history: [JobStateChange]?
    /// A pipeline run's pipeline; nil for a ComfyUI job.
    public var pipeline: String?
    /// A pipeline run's steps (and fan-out items), as far as they got.
    public var steps: [PipelineStepInfo]?
    /// A pipeline run's result, once it succeeded.
    public var result: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, state, jobClass = "class", workflow, promptId, attempts, vram, timeoutSeconds, createdAt, updatedAt
        case error, outputs, progress, history, pipeline, steps, result
    }

    public init(id: String, state: String, jobClass: String, workflow: String?, promptId: String?, attempts: Int,
                vram: ByteSize, timeoutSeconds: Double, createdAt: String, updatedAt: String, error: String? = nil,
                outputs: [JobOutput]? = nil, progress: JobProgress? = nil, history: [JobStateChange]? = nil) {
        self.id = id
        self.state = state
        self.jobClass = jobClass
        self.workflow = workflow
        self.promptId = promptId
        self.attempts = attempts
        self.vram = vram
        self.timeoutSeconds = timeoutSeconds
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.error = error
        self.outputs = outputs
        self.progress = progress
        self.history = history
    }

    /// True once it can no longer change.
    public var isFinal: Bool { JobState(rawValue: state)?.isFinal ?? false }
}

/// `jobs.list`.
public struct JobsListResult: Codable, Sendable, Equatable {
    public var jobs: [JobInfo]
    public init(jobs: [JobInfo]) { self.jobs = jobs }
}

/// A `job` notification of `jobs.wait`: a new state (with the job) or progress.
public struct JobNotification: Codable, Sendable, Equatable {
    public var job: String
    public var state: String?
    public var progress: JobProgress?
    public var error: String?
    /// A pipeline step (or fan-out item) that started or ended.
    public var step: PipelineStepInfo?

    public init(job: String, state: String? = nil, progress: JobProgress? = nil, error: String? = nil, step: PipelineStepInfo? = nil) {
        self.job = job
        self.state = state
        self.progress = progress
        self.error = error
        self.step = step
    }
}
