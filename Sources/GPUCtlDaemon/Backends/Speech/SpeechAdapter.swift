import Foundation
import GPUCtlModels
import NIOConcurrencyHelpers
import OllamaClient
import SpeechClient

/// A backend whose models are loaded and unloaded by name, one at a time, outside Ollama: the
/// ModelWorker sends such a model's `.load`/`.unload` here instead of to Ollama.
protocol NamedModelBackend: ManagedBackend {
    /// Makes `model` resident, charged `bytes`; returns it as resident.
    func load(_ model: String, bytes: UInt64) async throws -> RunningModel
    /// Gives `model`'s memory back; false when the backend cannot (no unload call).
    func unload(_ model: String) async throws -> Bool
}

/// A text-to-speech server as a managed backend. It cannot say what it holds, so the adapter
/// keeps what it knows: the server's default voice model is resident from its start (as
/// Kokoro-FastAPI loads it), gone after `/dev/unload`, back with the next speech. That is the
/// lease the Scheduler counts; it evicts it, by name, like an idle Ollama model.
final class SpeechAdapter: NamedModelBackend, Sendable {
    let client: SpeechClient
    /// The catalog's TTS models and their declared sizes; the first is the server's default.
    let models: [(name: String, bytes: UInt64)]
    private let resident: NIOLockedValueBox<String?>

    init(client: SpeechClient, models: [(name: String, bytes: UInt64)]) {
        self.client = client
        self.models = models
        resident = NIOLockedValueBox(models.first?.name)
    }

    var backend: Backend { .tts }
    var url: String { client.baseURL }
    /// The model a speech without one uses.
    var defaultModel: String? { models.first?.name }

    func probe() async throws -> BackendProbe {
        let version = try await client.health()
        return BackendProbe(version: version, identity: "TTS server (\(version))", holdings: .models(residentModels()))
    }

    func freeWorkingSet() async throws -> FreeOutcome {
        FreeOutcome(confirmed: true, stillHeld: nil, summary: "the TTS server's memory is its model's: nothing to free as a whole")
    }

    func load(_ model: String, bytes: UInt64) async throws -> RunningModel {
        // The server loads on its first speech; until then the lease stands for it.
        _ = try await client.health()
        resident.withLockedValue { $0 = model }
        return running(model)
    }

    func unload(_ model: String) async throws -> Bool {
        guard try await client.unload() else { return false }
        resident.withLockedValue { $0 = nil }
        return true
    }

    /// A speech was made with `model`: the server holds it now.
    func spoke(_ model: String) { resident.withLockedValue { $0 = model } }

    private func residentModels() -> [RunningModel] {
        resident.withLockedValue { $0 }.map { [running($0)] } ?? []
    }

    private func running(_ model: String) -> RunningModel {
        let bytes = models.first { $0.name == model }?.bytes ?? 0
        return RunningModel(name: model, model: model, size: bytes, sizeVRAM: bytes, expiresAt: nil, contextLength: nil)
    }
}
