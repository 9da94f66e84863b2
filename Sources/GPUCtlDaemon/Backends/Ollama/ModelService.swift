import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import OllamaClient

/// The Ollama methods behind the router: each resolves the model, waits for the Scheduler's
/// go-ahead through the Supervisor, then talks to Ollama.
struct ModelService: Sendable {
    let supervisor: Supervisor
    let ollama: OllamaClient
    /// The most text (and thinking) kept of one answer for its result: a model writes far
    /// less; a backend that sends more is broken or hostile, and its answer fails.
    var maximumAnswerBytes = 32 << 20

    /// Catalog name or alias → the Scheduler's key; a model only Ollama has is registered.
    func resolve(_ name: String) async throws -> String {
        if let key = await supervisor.schedulerKey(for: name) { return key }
        if let spec = supervisor.catalog.model(named: name), spec.backend != .ollama {
            throw ModelError.notAnOllamaModel(name, spec.backend)
        }
        let local = try await ollama.localModels()
        let wanted = OllamaName.normalise(name)
        if let found = local.first(where: { OllamaName.normalise($0.name) == wanted }) {
            await supervisor.register(found.name, diskSize: found.size)
            return found.name
        }
        let known = supervisor.catalog.models.filter { $0.backend == .ollama }.flatMap { [$0.name] + $0.aliases }
            + local.map(\.name)
        throw ModelError.notFound(name, suggestion: Suggestion.closest(to: name, in: known))
    }

    func list() async -> ModelsListResult { await supervisor.modelsList() }

    func load(_ params: ModelLoadParams) async throws -> ModelChangeResult {
        let started = ContinuousClock.now
        let name = params.model
        let keepAlive = params.keepAlive
        let model = try await resolve(name)
        let before = await supervisor.residentNames()
        if let keepAlive { await supervisor.setKeepAlive(keepAlive, for: model) }
        let admission = try await supervisor.admit(model, requestClass: params.requestClass, exact: true)
        await supervisor.finish(admission)
        // A new keep_alive for a model already loaded is sent to Ollama now.
        if let keepAlive, before.contains(admission.model) {
            let plan = await supervisor.loadPlan(for: admission.model)
            try await ollama.load(admission.model, keepAlive: keepAlive.ollamaValue, options: plan.options,
                                  embeddingOnly: plan.embeddingOnly ?? false)
        }
        let after = await supervisor.residentNames()
        return ModelChangeResult(
            model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed,
            outcome: before.contains(admission.model) ? "already_resident" : "loaded",
            unloaded: before.filter { !after.contains($0) }, kept: [], resident: after,
            elapsedMs: (ContinuousClock.now - started).milliseconds, loadMs: admission.loadTime?.milliseconds)
    }

    func unload(_ params: ModelUnloadParams) async throws -> [ModelChangeResult] {
        let started = ContinuousClock.now
        let name = params.model
        let targets = if let name { [try await resolve(name)] } else { await supervisor.residentNames() }
        var results: [ModelChangeResult] = []
        for model in targets {
            let unloaded = try await supervisor.unload(model)
            results.append(ModelChangeResult(
                model: model, requestedModel: name, fallbackUsed: false, outcome: unloaded ? "unloaded" : "not_resident",
                unloaded: unloaded ? [model] : [], kept: [], resident: await supervisor.residentNames(),
                elapsedMs: (ContinuousClock.now - started).milliseconds, loadMs: nil))
        }
        return results
    }

    /// Exactly this model resident: every other unpinned model is unloaded (with `keep`, only
    /// what must go for it to fit), then it is loaded.
    func swap(_ params: ModelSwapParams) async throws -> ModelChangeResult {
        let started = ContinuousClock.now
        let name = params.model
        let keep = params.keep
        let model = try await resolve(name)
        let before = await supervisor.residentNames()
        var kept: [String] = []
        var others: [String] = []
        if !keep {
            for other in before where other != model {
                if await supervisor.isPinned(other) { kept.append(other) } else { others.append(other) }
            }
        }
        // Unloads start at once; the load waits for them (one change at a time).
        async let unloads: Void = withThrowingTaskGroup(of: Bool.self) { group in
            for other in others { group.addTask { try await supervisor.unload(other) } }
            try await group.waitForAll()
        }
        let admission: Admission
        do {
            admission = try await supervisor.admit(model, exact: true)
        } catch {
            try? await unloads
            throw error
        }
        await supervisor.finish(admission)
        try await unloads
        let after = await supervisor.residentNames()
        return ModelChangeResult(
            model: admission.model, requestedModel: name, fallbackUsed: admission.fallbackUsed,
            outcome: before.contains(admission.model) ? "already_resident" : "loaded",
            unloaded: before.filter { !after.contains($0) }, kept: kept, resident: after,
            elapsedMs: (ContinuousClock.now - started).milliseconds, loadMs: admission.loadTime?.milliseconds)
    }
}

extension Duration {
    var milliseconds: Double {
        let value = Double(components.seconds) * 1e3 + Double(components.attoseconds) / 1e15
        return (value * 1000).rounded() / 1000
    }
}
