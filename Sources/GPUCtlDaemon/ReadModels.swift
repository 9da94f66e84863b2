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
    var scheduler: Scheduler
    var lastRunning: [String: RunningModel] = [:]
    var lastUsed: [String: Date] = [:]
    var keepAliveOverrides: [String: KeepAlive] = [:]
    var metricsURL: String?
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
            gpu: gpu, backends: backends, scheduler: residency.scheduler, lastRunning: residency.lastRunning,
            lastUsed: residency.lastUsed, keepAliveOverrides: residency.keepAliveOverrides, metricsURL: metricsURL))
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
                socket: configuration.socketPath, stateDir: configuration.stateDirectory, metricsURL: snapshot.metricsURL),
            gpu: snapshot.gpu,
            budget: Self.budget(snapshot.gpu, configuration),
            backends: Self.withHoldings(snapshot.backends, snapshot.scheduler),
            catalog: catalog.summary(path: configuration.catalogPath),
            jobs: jobs)
    }

    /// The backends' last probes, each with what the Scheduler charges it on the card now.
    static func withHoldings(_ backends: BackendsStatus, _ scheduler: Scheduler) -> BackendsStatus {
        var result = backends
        result[.ollama].held = ByteSize(bytes: scheduler.residentBytes.values.reduce(0, +))
        result[.comfyui].held = ByteSize(bytes: scheduler.resident(.comfyui)?.bytes ?? 0)
        return result
    }
}
