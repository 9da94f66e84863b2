/// Every JSON-RPC method gpuctld serves: the one table both the daemon's router and the
/// clients name methods from, and the one docs/rpc.md documents.
public enum RPCMethod: String, CaseIterable, Sendable, Codable {
    /// Liveness: answers `{"pong":true}` without touching any backend.
    case ping
    /// The daemon's name, version and protocol version.
    case version
    /// One snapshot of the daemon, the GPU, the budget, the backends, the catalog and the jobs.
    case status
    /// Stops another call of the same connection: `{"id": <its id>}`.
    case cancel
    /// The catalog merged with what Ollama holds now.
    case modelsList = "models.list"
    /// Makes a model resident (evicting idle ones as needed).
    case modelsLoad = "models.load"
    /// Unloads a model, or every model with `{"all": true}`.
    case modelsUnload = "models.unload"
    /// Makes exactly this model resident: the others go (pinned ones stay), or with `keep` only what must.
    case modelsSwap = "models.swap"
    /// Text generation, streamed as `stream` notifications.
    case generate
    /// A chat turn, streamed as `stream` notifications.
    case chat
    /// Embedding vectors.
    case embed
    /// Text to speech on the TTS server (`--tts-url`); the audio comes back base64.
    case speak
    /// The ComfyUI workflow templates: parameters, checkpoints, VRAM; and the broken ones skipped.
    case workflowsList = "workflows.list"
    /// Asks ComfyUI to unload its models and caches, and reports the VRAM that came back.
    case comfyFree = "comfy.free"
    /// Queues a ComfyUI job (a workflow and its parameters, or a raw API-format graph) durably.
    case comfySubmit = "comfy.submit"
    /// Embeds texts and stores them, with their metadata, in a named collection.
    case collectionsAdd = "collections.add"
    /// The items of a collection nearest to a query text, by cosine similarity.
    case collectionsSearch = "collections.search"
    /// Every collection: its model, dimensions and item count.
    case collectionsList = "collections.list"
    /// Deletes a collection and its items.
    case collectionsDelete = "collections.delete"
    /// The pipelines of Workflows/pipelines/: inputs and steps; and the broken ones skipped.
    case pipelinesList = "pipelines.list"
    /// Queues a pipeline run as one durable job and answers with it at once.
    case pipelineRun = "pipeline.run"
    /// Jobs, newest first, optionally only some states.
    case jobsList = "jobs.list"
    /// One job: state, attempts, outputs, error, and its history of states.
    case jobsGet = "jobs.get"
    /// Cancels a job wherever it is (waiting, in ComfyUI's queue, running) and returns it ended.
    case jobsCancel = "jobs.cancel"
    /// Streams a job's states and progress as `job` notifications until it ends; returns it.
    case jobsWait = "jobs.wait"
    /// Streams state changes as `stream` notifications (`DaemonEvent`) until the caller cancels
    /// or hangs up; `{"types": [...]}` keeps only some (`job`, `model.loaded`, …).
    case eventsSubscribe = "events.subscribe"
    /// Trusts the backend now answering at a backend's URL (`{"backend": "comfyui"}`) after its
    /// identity changed; work held for it goes on.
    case backendsTrust = "backends.trust"
    /// Every metric in Prometheus' text format: `{"content_type": …, "text": …}`.
    case metrics
}

/// The daemon's version, shared by the daemon and the CLI so `gpuctl version` can compare them.
public enum GPUCtlVersion {
    /// The version of this build.
    public static let current = "0.1.0"
    /// The RPC protocol revision; raised on any incompatible change to a method's shape.
    public static let protocolRevision = 1
}
