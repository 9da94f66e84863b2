import GPUCtlModels
import OllamaClient

/// Ollama as a managed backend: up when `/api/version` answers; it holds what `/api/ps` lists.
struct OllamaAdapter: ManagedBackend {
    let ollama: OllamaClient

    var backend: Backend { .ollama }
    var url: String { ollama.baseURL }

    func probe() async throws -> BackendProbe {
        // What Ollama holds, including models loaded behind gpuctld's back; asked alongside.
        async let running = try? ollama.runningModels()
        let version = try await ollama.version()
        return BackendProbe(version: version, identity: "Ollama \(version)", holdings: await running.map(BackendHoldings.models))
    }

    func freeWorkingSet() async throws -> FreeOutcome {
        FreeOutcome(confirmed: true, stillHeld: nil, summary: "Ollama's memory is its models': nothing to free as a whole")
    }
}
