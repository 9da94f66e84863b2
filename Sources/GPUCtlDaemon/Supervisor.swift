import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore
import GPUProbe
import Logging

/// The only writer of daemon state. Everything that happens (a GPU sample, a backend probe,
/// a request) reaches it as a call; `status()` reads what it holds without touching a backend.
public actor Supervisor {
    let configuration: DaemonConfiguration
    let catalog: Catalog
    /// The ComfyUI workflow templates read at start.
    let workflows: WorkflowCatalog
    nonisolated let store: JobStore
    let startedAt = ContinuousClock.now
    /// Where `/metrics` is served, once the HTTP listener is bound.
    var metricsURL: String?
    /// Where each front door is served, once its listener is bound.
    var doorURLs: [RequestSource: String] = [:]
    /// The read models' state, published after every change (ReadModels.swift).
    nonisolated let published: PublishedSnapshot
    let logger: Logger
    private(set) var gpu: GPUStatus
    /// Each backend's last probe, keyed by backend.
    private(set) var backends: BackendsStatus
    /// Which backend identity is trusted at each URL; work waits while one is not.
    private(set) var trust = BackendTrust()
    /// Which Ollama models are resident and who waits for what (Supervisor+Models.swift).
    var residency: ResidencyState
    let admissions = Admissions()
    /// Loads, unloads and timers for the ModelWorker.
    let work: AsyncStream<ModelWork>.Continuation
    /// ComfyUI jobs and who waits on them (Supervisor+Jobs.swift).
    var jobs = JobsState()
    /// Admitted jobs and cancels for the ComfyJobRunner.
    let runner: AsyncStream<RunnerInput>.Continuation
    /// State changes for `events.subscribe`.
    public nonisolated let events: EventHub
    /// Counters for the `metrics` method and `/metrics`.
    public nonisolated let metrics: DaemonMetrics

    init(configuration: DaemonConfiguration, catalog: Catalog, workflows: WorkflowCatalog = WorkflowCatalog(),
         store: JobStore, initialGPU: GPUSample?, work: AsyncStream<ModelWork>.Continuation,
         runner: AsyncStream<RunnerInput>.Continuation, events: EventHub = EventHub(),
         metrics: DaemonMetrics = DaemonMetrics(), logger: Logger) {
        self.configuration = configuration
        self.events = events
        self.metrics = metrics
        self.catalog = catalog
        self.workflows = workflows
        self.store = store
        self.logger = logger
        self.work = work
        self.runner = runner
        let declared = configuration.declaredVRAM ?? ByteSize(bytes: 0)
        let gpu = initialGPU.map(Self.gpuStatus) ?? GPUStatus(
            name: "declared (no GPU readable)", total: declared, used: ByteSize(bytes: 0), free: declared,
            source: .declared, processes: [])
        self.gpu = gpu
        var initial: [Backend: BackendStatus] = [.ollama: BackendStatus(url: configuration.ollamaURL),
                                                 .comfyui: BackendStatus(url: configuration.comfyUIURL)]
        if let tts = configuration.ttsURL { initial[.tts] = BackendStatus(url: tts) }
        let backends = BackendsStatus(initial)
        self.backends = backends
        var scheduler = Scheduler(budget: Self.budget(gpu, configuration).budget.bytes,
                                  policies: Self.policies(catalog: catalog, store: store, logger: logger))
        scheduler.minimumResidency = configuration.minimumResidency
        self.residency = ResidencyState(scheduler: scheduler)
        self.published = PublishedSnapshot(SupervisorSnapshot(gpu: gpu, backends: backends, scheduler: SchedulerView()))
    }

    static func budget(_ gpu: GPUStatus, _ configuration: DaemonConfiguration) -> BudgetStatus {
        let foreign = gpu.processes.filter { $0.owner == VRAMBudget.Owner.foreign.rawValue }
            .reduce(0) { $0 + $1.used.bytes }
        return VRAMBudget.budget(total: gpu.total, reserve: configuration.reserve, foreign: ByteSize(bytes: foreign))
    }

    var budget: BudgetStatus { Self.budget(gpu, configuration) }

    func setMetricsURL(_ url: String) {
        metricsURL = url
        publish()
    }

    func setDoorURL(_ door: RequestSource, _ url: String) {
        doorURLs[door] = url
        publish()
    }

    /// `workflows.list`: each template with its parameters and VRAM, and what was skipped.
    nonisolated func workflowsList() -> WorkflowsListResult {
        WorkflowsListResult(
            directory: configuration.workflowsDirectory,
            workflows: workflows.templates.values.sorted { $0.name < $1.name }.map { template in
                WorkflowsListResult.Workflow(
                    name: template.name, description: template.description,
                    parameters: template.parameters.sorted { $0.key < $1.key }.map { name, parameter in
                        WorkflowsListResult.Parameter(
                            name: name, type: parameter.type.rawValue, required: parameter.required,
                            defaultValue: parameter.defaultValue, choices: parameter.choices.isEmpty ? nil : parameter.choices,
                            description: parameter.description)
                    },
                    checkpoints: template.checkpoints, vram: workflows.vram(of: template, models: catalog),
                    learnedVRAM: (try? store.footprint(subject: Self.footprintSubject(workflow: template.name)))
                        .flatMap { $0 }.map { ByteSize(bytes: UInt64(clamping: $0.peakBytes)) })
            },
            broken: workflows.broken.map { WorkflowsListResult.Broken(name: $0.workflow, problems: $0.problems) })
    }

    /// A new GPU reading; a failed one keeps the last numbers and records why.
    public func observe(gpuSample result: Result<GPUSample, GPUProbeError>) {
        switch result {
        case .success(let sample):
            let before = budget
            gpu = Self.gpuStatus(sample)
            // ComfyUI's processes as the card sees them: what a job is learned from when there.
            let comfy = sample.processes.filter { VRAMBudget.owner(ofCommandLine: $0.name) == .comfyui }
            if comfy.contains(where: { $0.usedBytes > 0 }) {
                jobs.meter.observed(comfy.map(\.usedBytes).saturatingSum(), source: .card)
            }
            if budget.budget.bytes != residency.scheduler.budget { apply(.budgetChanged(budget.budget.bytes)) }
            if budget != before { events.publish(DaemonEvent(.budget, budget: budget)) }
        case .failure(let error):
            if gpu.lastError != error.message { logger.warning("GPU sample failed: \(error.message)") }
            gpu.lastError = error.message
            publish()
        }
    }

    /// A finished backend probe, with the identity it found when the backend answered.
    public func observe(backend: Backend, status: BackendStatus, identity: String? = nil) {
        let previous = backends[backend]
        if previous.state != status.state {
            let detail = status.state == .up ? "version \(status.version ?? "?")" : status.lastError ?? "no detail"
            logger.notice("\(backend.rawValue) is \(status.state.rawValue)", metadata: ["backend.url": "\(status.url)", "backend.detail": "\(detail)"])
            events.publish(DaemonEvent(.backend, state: status.state.rawValue, backend: backend.rawValue,
                                       error: status.state == .up ? nil : status.lastError))
        }
        var status = status
        if status.state == .up, let identity, trust.observe(backend, identity: identity) {
            if let warning = trust.warning(backend, url: status.url) {
                logger.warning("\(warning)")
                events.publish(DaemonEvent(.backend, state: "untrusted", backend: backend.rawValue, error: warning))
            } else {
                logger.notice("\(backend.rawValue) at \(status.url) is the one gpuctld knew again: work goes on")
                events.publish(DaemonEvent(.backend, state: "trusted", backend: backend.rawValue))
            }
        }
        status.untrusted = trust.warning(backend, url: status.url)
        backends[backend] = status
        publish()
        updateAvailability(backend)
    }

    /// The job lane waits for its backend (up and trusted); model requests go to Ollama
    /// whatever its state (an unreachable Ollama fails them with a sentence of its own), but
    /// never to an untrusted one (`admit` refuses).
    func updateAvailability(_ backend: Backend) {
        let usable = backends[backend].state == .up && trust.isTrusted(backend)
        if backend == Scheduler.jobBackend, residency.scheduler.available.contains(backend) != usable {
            apply(.backendAvailable(backend, usable))
        }
    }

    /// `backends.trust`: what answers at the backend's URL now is trusted; held work goes on.
    func trustBackend(_ backend: Backend) -> BackendTrustResult {
        let (identity, wasUntrusted) = trust.trust(backend)
        if wasUntrusted {
            logger.notice("\(backend.rawValue) trusted as \(identity ?? "?") by a user")
            events.publish(DaemonEvent(.backend, state: "trusted", backend: backend.rawValue))
        }
        backends[backend].untrusted = trust.warning(backend, url: backends[backend].url)
        publish()
        updateAvailability(backend)
        return BackendTrustResult(backend: backend.rawValue, identity: identity, wasHeld: wasUntrusted)
    }

    static func gpuStatus(_ sample: GPUSample) -> GPUStatus {
        let source: GPUSource = switch sample.source {
        case .nvml: .nvml
        case .nvidiaSMI: .nvidiaSMI
        case .declared: .declared
        }
        return GPUStatus(
            name: sample.name, total: ByteSize(bytes: sample.totalBytes), used: ByteSize(bytes: sample.usedBytes),
            free: ByteSize(bytes: sample.freeBytes), source: source,
            processes: sample.processes.map {
                GPUProcessStatus(pid: $0.pid, name: $0.name, used: ByteSize(bytes: $0.usedBytes),
                                 owner: VRAMBudget.owner(ofCommandLine: $0.name).rawValue)
            })
    }
}
