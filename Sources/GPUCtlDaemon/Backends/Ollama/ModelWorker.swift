import BackendHTTP
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUProbe
import Logging
import OllamaClient
import ServiceLifecycle

/// What the Supervisor asks to be done outside itself, so that it never waits on I/O.
enum ModelWork: Sendable {
    case load(String)
    case unload(String)
    /// Tell the Scheduler time has passed at this instant.
    case wake(ContinuousClock.Instant)
    /// A waiting request's caller went away.
    case cancelled(Scheduler.RequestID)
    /// A backend's working set must go (a model needs the room): ComfyUI's /free, then
    /// confirm the memory is back.
    case free(Backend)
    /// A job state the Supervisor decided inside a Scheduler action (a refusal), written off it.
    case recordJob(String, JobState, error: String)
    /// A measured size, saved as a learned footprint: a model's after its load
    /// (`ollama:NAME`), a workflow's peak during a job (`workflow:NAME`).
    case recordFootprint(subject: String, bytes: UInt64)
}

/// Carries out loads and unloads against Ollama and confirms each with /api/ps (bounded
/// polling), then reports back to the Supervisor. Each piece of work runs in its own child task.
struct ModelWorker: Service {
    let work: AsyncStream<ModelWork>
    let ollama: OllamaClient
    let backends: BackendRegistry
    let supervisor: Supervisor
    /// The card, when it reports real usage per process (NVML or nvidia-smi): an unload counts
    /// only once the card shows Ollama's memory down, since the driver may give it back a while
    /// after /api/ps has dropped the model. nil on a declared card, where /api/ps is all there is.
    var gpu: GPUProbe?
    /// How long the card may take to show an unloaded model's memory back.
    var releaseTimeout: Duration = .seconds(10)
    /// How long /api/ps may take to show a load or an unload.
    var confirmTimeout: Duration = .seconds(15)
    /// The longest wait between two /api/ps polls; the first ones come quicker (2, 4, 8 ms).
    /// Every millisecond past the moment Ollama drops a model is added to a swap or a hand-over
    /// to ComfyUI, and /api/ps is an in-memory list, so polling stays this tight throughout.
    var pollInterval: Duration = .milliseconds(10)
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await item in work {
                    group.addTask { await perform(item) }
                }
            }
        }
    }

    func perform(_ item: ModelWork) async {
        switch item {
        case .load(let model): await load(model)
        case .unload(let model): await unload(model)
        case .wake(let instant):
            try? await Task.sleep(until: instant, clock: .continuous)
            await supervisor.tick()
        case .cancelled(let id): await supervisor.cancelWaiting(id)
        case .free(let backend):
            await free(backend)
        case .recordJob(let jobID, let state, let error):
            await supervisor.record(jobID, state, error: error)
        case .recordFootprint(let subject, let bytes):
            supervisor.saveFootprint(subject, bytes: bytes)
        }
    }

    /// A free counts only once the backend holds (nearly) nothing; memory still held is still
    /// held, and the Scheduler asks again later. A backend that refuses connections has no
    /// process left to hold anything, unless the GPU's process list says otherwise.
    private func free(_ backend: Backend) async {
        guard let managed = backends[backend] else { return await supervisor.freed(backend) }
        do {
            let outcome = try await managed.freeWorkingSet()
            if outcome.confirmed {
                logger.info("\(outcome.summary), for a model")
                await supervisor.freed(backend)
            } else {
                logger.warning("\(outcome.summary); not handed over")
                await supervisor.freeFailed(backend, stillHeld: outcome.stillHeld)
            }
        } catch let error as BackendFailure where error.isUnreachable {
            await supervisor.freeUnanswered(backend, because: "\(error)")
        } catch {
            logger.warning("\(backend.rawValue) could not free its memory: \(error); not handed over")
            await supervisor.freeFailed(backend, stillHeld: nil)
        }
    }

    private func load(_ model: String) async {
        let started = ContinuousClock.now
        if let named = await namedBackend(of: model) {
            do {
                let running = try await named.load(model, bytes: await supervisor.chargedBytes(model))
                await supervisor.loadFinished(model, result: .success(running), duration: ContinuousClock.now - started)
            } catch {
                logger.warning("model load failed", metadata: ["model.name": "\(model)", "error": "\(error)"])
                await supervisor.loadFinished(model, result: .failure(error), duration: ContinuousClock.now - started)
            }
            return
        }
        let plan = await supervisor.loadPlan(for: model)
        do {
            var embeddingOnly = plan.embeddingOnly
            if embeddingOnly == nil {
                let info = try await ollama.show(model)
                embeddingOnly = info.isEmbeddingOnly
                await supervisor.remember(embeddingOnly: info.isEmbeddingOnly, for: model)
            }
            try await ollama.load(model, keepAlive: plan.keepAlive, options: plan.options, embeddingOnly: embeddingOnly ?? false)
            guard let running = await confirm(model, present: true) else {
                throw OllamaError(kind: .decoding, status: nil,
                                  message: "Ollama answered the load of \(model) but /api/ps did not list it within \(confirmTimeout)")
            }
            logger.info("model loaded", metadata: ["model.name": "\(model)", "model.size_vram": "\(running.sizeVRAM)",
                                                   "model.load_duration": "\(ContinuousClock.now - started)"])
            await supervisor.loadFinished(model, result: .success(running), duration: ContinuousClock.now - started)
        } catch {
            logger.warning("model load failed", metadata: ["model.name": "\(model)", "error": "\(error)"])
            await supervisor.loadFinished(model, result: .failure(error), duration: ContinuousClock.now - started)
        }
    }

    /// The backend that loads `model` by name when it is not Ollama (a TTS server's voice).
    private func namedBackend(of model: String) async -> (any NamedModelBackend)? {
        let backend = await supervisor.modelBackend(model)
        guard backend != .ollama else { return nil }
        return backends[backend] as? any NamedModelBackend
    }

    private func unload(_ model: String) async {
        if let named = await namedBackend(of: model) {
            let gone = (try? await named.unload(model)) ?? false
            logger.info("model unloaded", metadata: ["model.name": "\(model)", "model.confirmed": "\(gone)"])
            return await supervisor.unloadFinished(model, confirmed: gone)
        }
        let before = await ollamaBytesOnCard()
        let charged = await supervisor.chargedBytes(model)
        do {
            try await ollama.unload(model)
            var gone = await confirm(model, present: false) != nil
            if gone, let before, charged > 0 {
                gone = await cardShowsRelease(from: before, of: min(charged, before) / 10 * 9)
                if !gone {
                    logger.warning("Ollama no longer lists \(model), but the card still shows its memory held after \(releaseTimeout); not handed over yet",
                                   metadata: ["model.name": "\(model)"])
                }
            }
            logger.info("model unloaded", metadata: ["model.name": "\(model)", "model.confirmed": "\(gone)"])
            await supervisor.unloadFinished(model, confirmed: gone)
        } catch {
            logger.warning("model unload failed", metadata: ["model.name": "\(model)", "error": "\(error)"])
            await supervisor.unloadFinished(model, confirmed: false)
        }
    }

    /// What Ollama's processes hold on the card now; nil when the card does not say.
    private func ollamaBytesOnCard() async -> UInt64? {
        guard let gpu, let sample = try? await gpu.sample(), sample.source != .declared else { return nil }
        return sample.processes.filter { VRAMBudget.owner(ofCommandLine: $0.name) == .ollama }.map(\.usedBytes).saturatingSum()
    }

    /// Samples the card until Ollama's processes hold `bytes` less than `before` (a runner gone
    /// counts with all it held), or `releaseTimeout` passes.
    private func cardShowsRelease(from before: UInt64, of bytes: UInt64) async -> Bool {
        let deadline = ContinuousClock.now + releaseTimeout
        var wait = Duration.milliseconds(5)
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let now = await ollamaBytesOnCard(), before - min(before, now) >= bytes { return true }
            try? await Task.sleep(for: wait)
            wait = min(wait * 2, .milliseconds(100))
        }
        return false
    }

    /// Polls /api/ps until `model` is listed (`present`) or gone. Returns its entry when listed,
    /// a placeholder when gone, nil when the time ran out.
    private func confirm(_ model: String, present: Bool) async -> RunningModel? {
        let deadline = ContinuousClock.now + confirmTimeout
        let wanted = OllamaName.normalise(model)
        var wait = Duration.milliseconds(2)
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let running = try? await ollama.runningModels() {
                let entry = running.first { OllamaName.normalise($0.name) == wanted }
                if present, let entry { return entry }
                if !present, entry == nil {
                    return RunningModel(name: model, model: model, size: 0, sizeVRAM: 0, expiresAt: nil, contextLength: nil)
                }
            }
            try? await Task.sleep(for: wait)
            wait = min(wait * 2, pollInterval)
        }
        return nil
    }
}

/// Ollama's name rules: `llama3.2` is `llama3.2:latest`, and case does not matter.
enum OllamaName {
    static func normalise(_ name: String) -> String {
        let lowered = name.lowercased()
        return lowered.contains(":") ? lowered : "\(lowered):latest"
    }
}
