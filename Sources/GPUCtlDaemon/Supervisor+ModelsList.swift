import Foundation
import GPUCtlCore
import GPUCtlModels

extension Supervisor {
    /// Resident models (loading and unloading ones included), sorted.
    func residentNames() -> [String] {
        residency.scheduler.residentBytes.keys.sorted()
    }

    /// The catalog's Ollama models merged with what is resident, then models only Ollama has.
    nonisolated func modelsList() -> ModelsListResult {
        let snapshot = published.current
        let scheduler = snapshot.scheduler
        let waiting = scheduler.waitingByModel
        var names = catalog.models.filter { $0.backend == .ollama }.map(\.name)
        names += scheduler.residentBytes.keys.filter { !names.contains($0) }.sorted()
        let entries = names.map { name -> ModelEntry in
            let spec = catalog.model(named: name)
            let resident = scheduler.resident(name)
            let running = snapshot.lastRunning[name]
            // The store's, or this run's latest load when the store has not caught up with it yet.
            let stored = (try? store.footprint(subject: Self.footprintSubject(name)))?.peakBytes
            let learned = [stored, snapshot.measuredAtLoad[name].map { Int64($0) }].compactMap { $0 }.max()
            let keepAlive = snapshot.keepAliveOverrides[name] ?? spec?.keepAlive
            return ModelEntry(
                name: name, aliases: spec?.aliases ?? [], inCatalog: spec != nil,
                state: resident?.phase.rawValue ?? "absent",
                declaredVRAM: spec?.vram, learnedVRAM: learned.map { ByteSize(bytes: UInt64(max(0, $0))) },
                footprint: scheduler.footprints[name].map { ByteSize(bytes: $0) },
                size: running.map { ByteSize(bytes: $0.size) },
                sizeVRAM: resident.map { ByteSize(bytes: $0.bytes) },
                expiresAt: resident == nil ? nil : running?.expiresAt,
                lastUsed: snapshot.lastUsed[name].map { $0.formatted(.iso8601) },
                inFlight: resident?.inFlight ?? 0, waiting: waiting[name] ?? 0,
                sources: snapshot.runningBySource[name].map { counts in
                    Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
                },
                priority: spec?.priority ?? ModelSpec.defaultPriority, pinned: spec?.pinned ?? false,
                keepAlive: keepAlive?.description, fallback: spec?.fallback)
        }
        return ModelsListResult(models: entries, budget: Self.budget(snapshot.gpu, configuration),
                                used: ByteSize(bytes: scheduler.usedBytes))
    }
}

extension Supervisor {
    /// One line for `systemctl status` (systemd's STATUS=): budget, what is resident, jobs,
    /// backends. Built from state the Supervisor holds; never waits on a backend.
    nonisolated func statusLine() -> String {
        let status = status()
        let resident = published.current.scheduler.residentBytes.keys.sorted()
        let models = resident.isEmpty ? "no model loaded" : "\(resident.count) loaded (\(resident.joined(separator: ", ")))"
        let jobs = status.jobs
        func backend(_ name: String, _ state: BackendStatus) -> String { "\(name) \(state.state.rawValue)" }
        return "budget \(status.budget.budget) of \(status.budget.total); \(models); jobs: \(jobs.running) running, \(jobs.queued) queued; "
            + "\(backend("Ollama", status.backends.ollama)), \(backend("ComfyUI", status.backends.comfyui))"
    }
}

extension Supervisor {
    /// What the metrics gauges show now.
    nonisolated func metricsSnapshot() -> MetricsSnapshot {
        let snapshot = published.current
        let models = snapshot.scheduler.residentBytes
        let comfyBytes = snapshot.scheduler.resident(.comfyui)?.bytes ?? 0
        return MetricsSnapshot(
            budget: Self.budget(snapshot.gpu, configuration), vramUsed: snapshot.gpu.used.bytes,
            leased: ["ollama": models.values.saturatingSum(), "comfyui": comfyBytes],
            modelsResident: models.count,
            queueDepth: ["models": snapshot.scheduler.waitingByClass, "jobs": snapshot.scheduler.waitingJobsByClass],
            backendsUp: snapshot.backends.byBackend.mapValues { $0.state == .up },
            eventSubscribers: events.subscriberCount)
    }

    /// The `metrics` method and `/metrics`: every family in Prometheus' text format.
    public nonisolated func metricsText() -> String {
        metrics.exposition(metricsSnapshot())
    }
}
