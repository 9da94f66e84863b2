import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import Logging
import NIOCore
import ServiceLifecycle

/// Pipeline runs. A run is one durable job (kind `pipeline`, the definition and inputs in its
/// params) whose steps run one at a time through the same doors as any caller's work: Ollama
/// calls through the ModelService (admitted by the Scheduler, which keeps the LLM loaded across
/// consecutive LLM steps and unloads it when a checkpoint needs the room), ComfyUI steps as
/// jobs of their own in the job queue. Each step is written to the store as it starts and ends
/// (`PipelineProgress` decides what is next), so a restart resumes from the first unfinished
/// step and never runs a finished one again.
actor PipelineService {
    let supervisor: Supervisor
    let models: ModelService
    let jobs: JobService
    let collections: CollectionService
    let speech: SpeechService
    let eventLoop: any EventLoop
    let logger: Logger
    /// Workflows/pipelines, when there is a workflow folder.
    let directory: String?
    private(set) var catalog: PipelineCatalog
    private var runs: [String: Task<Void, Never>] = [:]
    /// How long a step waits for an unreachable backend before the run fails naming it.
    let backendWait: Duration

    init(supervisor: Supervisor, models: ModelService, jobs: JobService, collections: CollectionService, speech: SpeechService,
         eventLoop: any EventLoop, logger: Logger, backendWait: Duration = .seconds(300)) {
        self.supervisor = supervisor
        self.models = models
        self.jobs = jobs
        self.collections = collections
        self.speech = speech
        self.eventLoop = eventLoop
        self.logger = logger
        self.backendWait = backendWait
        directory = supervisor.configuration.workflowsDirectory.map { "\($0)/pipelines" }
        catalog = Self.load(directory, workflows: supervisor.workflows)
        for broken in catalog.broken {
            logger.warning("pipeline skipped: \(broken.description)", metadata: ["pipeline.name": "\(broken.pipeline)"])
        }
    }

    static func load(_ directory: String?, workflows: WorkflowCatalog) -> PipelineCatalog {
        guard let directory else { return PipelineCatalog() }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return PipelineCatalog.load(fileNames: names, workflows: workflows) { FileManager.default.contents(atPath: "\(directory)/\($0)") }
    }

    /// `pipelines.list`: read again from the folder, so an edited file is checked at once.
    func list() -> PipelinesListResult {
        catalog = Self.load(directory, workflows: supervisor.workflows)
        return PipelinesListResult(
            directory: directory,
            pipelines: catalog.definitions.values.sorted { $0.name < $1.name }.map { definition in
                .init(name: definition.name, description: definition.description,
                      inputs: definition.inputs.values.sorted { $0.name < $1.name }.map {
                          .init(name: $0.name, type: $0.type.rawValue, required: $0.required, defaultValue: $0.defaultValue,
                                description: $0.description)
                      },
                      steps: definition.order.compactMap(definition.step).map {
                          .init(id: $0.id, kind: $0.kind.rawValue, uses: ($0.kind == .comfy ? $0.fields["workflow"] : $0.fields["model"])?.stringValue,
                                forEach: $0.forEach, optional: $0.optional, after: $0.dependencies.sorted())
                      })
            },
            broken: catalog.broken.map { .init(name: $0.pipeline, problems: $0.problems) })
    }

    /// `pipeline.run`: checks the inputs, writes the job (queued), starts it, answers at once.
    func run(_ params: PipelineRunParams) async throws -> JobInfo {
        catalog = Self.load(directory, workflows: supervisor.workflows)
        guard let definition = catalog.definitions[params.pipeline] else {
            let broken = catalog.broken.first { $0.pipeline == params.pipeline }.map { ": it is broken (\($0.problems.joined(separator: "; ")))" }
            let hint = Suggestion.closest(to: params.pipeline, in: catalog.definitions.keys.sorted()).map { "; did you mean '\($0)'?" } ?? "; list them with 'gpuctl pipelines'"
            throw JobError.badSubmission("no pipeline named '\(params.pipeline)'\(broken ?? hint)")
        }
        if speech.adapter == nil, let step = definition.steps.first(where: { $0.kind == .speak }) {
            throw JobError.badSubmission("pipeline '\(definition.name)' speaks (step '\(step.id)') and gpuctld has no text-to-speech server; start it with --tts-url URL (GPUCTL_TTS_URL)")
        }
        let inputs = PipelineProgress.typed(params.inputs, for: definition)
        let problems = PipelineProgress.check(inputs: inputs, of: definition)
        guard problems.isEmpty else { throw JobError.badSubmission("invalid params for pipeline.run: \(problems.joined(separator: "; "))") }
        // The definition goes into the job as it was checked: an edit later changes no run in flight.
        let stored: JSONValue = ["pipeline": .string(definition.name), "inputs": .object(inputs), "definition": definition.source]
        let record = JobRecord(kind: .pipeline, jobClass: params.requestClass, params: stored.jsonText, workflow: definition.name)
        let info = try await supervisor.enqueuePipeline(record)
        start(record.id, definition: definition, inputs: inputs)
        return info
    }

    /// At start: every pipeline run that had not ended goes on where it stopped.
    func resume() async {
        let open = ((try? supervisor.store.jobs(in: [.queued, .running])) ?? []).filter { $0.kind == .pipeline }
        for record in open {
            guard let params = try? JSONParser.parse(Data(record.params.utf8)), let name = params["pipeline"]?.stringValue,
                  let source = params["definition"], let inputs = params["inputs"]?.objectValue else {
                _ = await supervisor.record(record.id, .failed, error: "its stored definition cannot be read")
                continue
            }
            do {
                let definition = try PipelineParser.parse(name: name, data: JSONWriter.data(source), workflows: supervisor.workflows.templates)
                logger.notice("pipeline run \(record.id) (\(name)) resumes")
                start(record.id, definition: definition, inputs: inputs)
            } catch {
                _ = await supervisor.record(record.id, .failed, error: "its definition no longer checks against the workflows: \(error.problems.joined(separator: "; "))")
            }
        }
    }

    /// Cancels a run: the step running is stopped (its ComfyUI job cancelled, its Ollama call
    /// withdrawn) and nothing further starts. Returns the job as it ended.
    func cancel(_ jobID: String) async throws -> JobInfo {
        let current = try await supervisor.job(jobID)
        guard !current.isFinal else {
            throw JobError.alreadyEnded(jobID, JobState(rawValue: current.state) ?? .cancelled)
        }
        if let task = runs[jobID] {
            task.cancel()
            await task.value
        }
        // The ComfyUI job of the step that was stopped goes too.
        let stopped = ((try? supervisor.store.pipelineSteps(jobID: jobID)) ?? []).filter { $0.error == "cancelled" }
        for child in stopped.compactMap(\.childJob) {
            if let record = supervisor.storedJob(child), !record.state.isFinal { _ = try? await jobs.cancel(JobIDParams(id: child)) }
        }
        if !(try await supervisor.job(jobID)).isFinal { _ = await supervisor.record(jobID, .cancelled, error: "cancelled") }
        return try await supervisor.job(jobID)
    }

    /// Stops every run at shutdown without recording an end: they resume at the next start.
    func stopAll() async {
        let tasks = Array(runs.values)
        shuttingDown = true
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    private(set) var shuttingDown = false

    private func start(_ jobID: String, definition: PipelineDefinition, inputs: [String: JSONValue]) {
        // Once: `resume` at start may find a run that `run` queued while it was reading (the
        // socket serves before resuming ends), and both would start it.
        guard runs[jobID] == nil else { return }
        runs[jobID] = Task { [weak self] in
            guard let self else { return }
            await self.execute(jobID, definition: definition, inputs: inputs)
            await self.finished(jobID)
        }
    }

    private func finished(_ jobID: String) { runs[jobID] = nil }
}

/// The pipeline runs as a Service: unfinished runs resume once the daemon serves, and at
/// shutdown every run stops where it is (to resume at the next start).
struct PipelineRuns: Service {
    let pipelines: PipelineService

    func run() async throws {
        await pipelines.resume()
        try? await gracefulShutdown()
        await pipelines.stopAll()
    }
}
