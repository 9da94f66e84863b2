import Foundation
import GPUCtlModels
import SpeechClient

/// `speak`: text to speech through the VRAM budget. The voice model is admitted by the
/// Scheduler like any model (so it is loaded again after an eviction, and counted while it
/// speaks), then the server makes the audio.
struct SpeechService: Sendable {
    let supervisor: Supervisor
    /// nil when no TTS server is configured.
    let adapter: SpeechAdapter?

    /// The catalog's name for the voice model `requested` (nil: the first `tts` model).
    func model(_ requested: String?) throws -> String {
        let known = supervisor.catalog.models.filter { $0.backend == .tts }
        guard !known.isEmpty else {
            throw SpeechUnavailable.noModel
        }
        guard let requested else { return known[0].name }
        if let spec = supervisor.catalog.model(named: requested), spec.backend == .tts { return spec.name }
        let hint = Suggestion.closest(to: requested, in: known.flatMap { [$0.name] + $0.aliases }).map { "; did you mean '\($0)'?" }
            ?? "; the catalog's tts models: \(known.map(\.name).joined(separator: ", "))"
        throw SpeechUnavailable.unknownModel("no tts model named '\(requested)' in the catalog\(hint)")
    }

    func speak(_ params: SpeakParams) async throws -> (result: SpeakResult, audio: Data) {
        guard let adapter else { throw SpeechUnavailable.notConfigured }
        let started = ContinuousClock.now
        let model = try model(params.model)
        let admission = try await supervisor.admit(model, requestClass: params.requestClass)
        let audio: Data
        do {
            audio = try await adapter.client.speak(model: model, input: params.input, voice: params.voice,
                                                   format: params.format, speed: params.speed)
            adapter.spoke(model)
            await supervisor.finish(admission)
        } catch {
            await supervisor.finish(admission)
            throw error
        }
        let result = SpeakResult(model: model, voice: params.voice, format: params.format, bytes: audio.count,
                                 seconds: params.format == "wav" ? WAVDuration.seconds(audio).map { ($0 * 1000).rounded() / 1000 } : nil,
                                 audio: audio.base64EncodedString(), gpuctl: ModelService.timing(admission, started: started))
        return (result, audio)
    }
}

/// No TTS server to speak with, or no voice model to charge it as.
enum SpeechUnavailable: Error, Sendable {
    case notConfigured
    case noModel
    case unknownModel(String)

    var message: String {
        switch self {
        case .notConfigured:
            "no text-to-speech server is configured; start gpuctld with --tts-url URL (GPUCTL_TTS_URL), e.g. Kokoro-FastAPI's http://127.0.0.1:8880"
        case .unknownModel(let sentence):
            sentence
        case .noModel:
            #"the catalog has no tts model to charge the speech to; add one to models.json, e.g. "kokoro": {"backend": "tts", "vram": "1GiB"}"#
        }
    }
}
