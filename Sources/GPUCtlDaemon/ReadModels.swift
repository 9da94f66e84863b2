import Foundation
import GPUCtlCore
import GPUCtlModels
import NIOConcurrencyHelpers
import OllamaClient

/// What the read models (status, models.list, metrics, the status line) are built from. The
/// Supervisor publishes a copy after every change; readers take the latest without waiting for
/// the actor, so a `status` never queues behind a load or a job's bookkeeping.
struct SupervisorSnapshot: Sendable {
    var gpu: GPUStatus
    var backends: BackendsStatus
    var scheduler: SchedulerView
    var lastRunning: [String: RunningModel] = [:]
    var measuredAtLoad: [String: UInt64] = [:]
    var lastUsed: [String: Date] = [:]
    var keepAliveOverrides: [String: KeepAlive] = [:]
    var keepAliveHints: [String: KeepAlive] = [:]
    var metricsURL: String?
    var doorURLs: [RequestSource: String] = [:]
    var runningBySource: [String: [RequestSource: Int]] = [:]
}

/// What the read models need of the Scheduler, copied in O(models), never O(waiting requests):
/// a copy of the Scheduler itself would make its next change copy its whole queue.
struct SchedulerView: Sendable {
    var residents: [Holder: Scheduler.Resident] = [:]
    /// Each known model's footprint (its policy's).
    var footprints: [String: UInt64] = [:]
    var waitingByModel: [String: Int] = [:]
    var waitingByClass: [JobClass: Int] = [:]
    var waitingJobsByClass: [JobClass: Int] = [:]

    init() {}

    init(_ scheduler: Scheduler, models: [String]) {
        residents = scheduler.residents
        for name in models + scheduler.residentBytes.keys {
            if let policy = scheduler.policy(name) { footprints[name] = policy.footprint }
        }
        waitingByModel = scheduler.waitingByModel
        waitingByClass = scheduler.waitingByClass
        waitingJobsByClass = scheduler.waitingJobsByClass
    }

    var residentBytes: [String: UInt64] {
        Dictionary(uniqueKeysWithValues: residents.compactMap { holder, resident in holder.model.map { ($0, resident.bytes) } })
    }
    var usedBytes: UInt64 { residents.values.map(\.bytes).saturatingSum() }
    func resident(_ model: String) -> Scheduler.Resident? { residents[.model(model)] }
    func resident(_ backend: Backend) -> Scheduler.Resident? { residents[.backend(backend)] }
}

/// The latest snapshot, behind a lock.
final class PublishedSnapshot: Sendable {
    private let box: NIOLockedValueBox<SupervisorSnapshot>

    init(_ initial: SupervisorSnapshot) {
        box = NIOLockedValueBox(initial)
    }

    var current: SupervisorSnapshot { box.withLockedValue { $0 } }

    func publish(_ snapshot: SupervisorSnapshot) { box.withLockedValue { $0 = snapshot } }
}

extension Supervisor {
    /// Publishes the state the read models are built from (called after every change).
    func publish() {
        published.publish(SupervisorSnapshot(
            gpu: gpu, backends: backends, scheduler: SchedulerView(residency.scheduler, models: ollamaModelNames),
            lastRunning: residency.lastRunning, measuredAtLoad: residency.measuredAtLoad,
            lastUsed: residency.lastUsed, keepAliveOverrides: residency.keepAliveOverrides,
            keepAliveHints: residency.keepAliveHints, metricsURL: metricsURL,
            doorURLs: doorURLs, runningBySource: residency.runningBySource))
    }

    /// One snapshot for the `status` method.
    public nonisolated func status() -> StatusResult {
        let snapshot = published.current
        let jobs: JobCounts
        do {
            jobs = try store.jobCounts()
        } catch {
            logger.error("could not count jobs: \(error.message)")
            jobs = JobCounts()
        }
        let elapsed = ContinuousClock.now - startedAt
        return StatusResult(
            daemon: DaemonStatus(
                version: GPUCtlVersion.current, pid: ProcessInfo.processInfo.processIdentifier,
                uptimeSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                socket: configuration.socketPath, stateDir: configuration.stateDirectory, metricsURL: snapshot.metricsURL,
                ollamaDoorURL: snapshot.doorURLs[.ollamaDoor],
                comfyUIDoorURL: snapshot.doorURLs[.comfyUIDoor]),
            gpu: snapshot.gpu,
            budget: Self.budget(snapshot.gpu, configuration),
            backends: Self.withHoldings(snapshot.backends, snapshot.scheduler),
            catalog: catalog.summary(path: configuration.catalogPath),
            jobs: jobs)
    }

    /// The backends' last probes, each with what the Scheduler charges it on the card now.
    static func withHoldings(_ backends: BackendsStatus, _ scheduler: SchedulerView) -> BackendsStatus {
        var result = backends
        result[.ollama].held = ByteSize(bytes: scheduler.residentBytes.values.saturatingSum())
        result[.comfyui].held = ByteSize(bytes: scheduler.resident(.comfyui)?.bytes ?? 0)
        return result
    }
}

extension Supervisor {
    /// The catalog's Ollama models, by name.
    nonisolated var ollamaModelNames: [String] { catalog.models.filter { $0.backend == .ollama }.map(\.name) }
}
