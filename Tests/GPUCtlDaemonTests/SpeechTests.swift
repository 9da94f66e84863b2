import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The TTS server as a third backend: `speak` through the budget, its resident voice model
/// counted as a lease and taken back (Kokoro's /dev/unload) when an LLM needs the room.
@Suite(.timeLimit(.minutes(3))) struct SpeechTests {
    /// An 8B LLM (6.2 GiB) and a 2 GiB voice model: together more than the 8 GiB card holds.
    static let catalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6.2GiB", "priority": 60, "aliases": ["llama"]},
      "kokoro": {"backend": "tts", "vram": "2GiB", "priority": 40, "aliases": ["voice"]}
    }}
    """

    static func bed(vram: UInt64 = 8 << 30) async throws -> BackendTestBed {
        try await BackendTestBed.start(vram: vram, catalog: catalog, speech: { $0.configure { $0.modelBytes = 2 << 30 } })
    }

    @Test func speakAnswersAWAVAndStatusCountsTheResidentVoice() async throws {
        let bed = try await Self.bed(vram: 16 << 30)
        let up = await eventually {
            let status = try await bed.call(.status, as: StatusResult.self)
            return status.backends.byBackend[.tts]?.state == .up
        }
        #expect(up)
        let result = try await bed.call(.speak, ["input": "the quick brown fox jumps", "voice": "af_bella"], as: SpeakResult.self)
        let audio = try #require(Data(base64Encoded: result.audio))
        #expect(result.model == "kokoro" && result.format == "wav" && result.bytes == audio.count)
        #expect(Array(audio.prefix(4)) == Array("RIFF".utf8) && result.seconds == 1.5, "\(result.seconds ?? 0)")
        // The voice model is a resident lease the budget counts.
        let models = try await bed.call(.modelsList, as: ModelsListResult.self)
        #expect(models.models.first { $0.name == "kokoro" }?.state == "loaded", "\(models.models.map { "\($0.name) \($0.state)" })")
        #expect(models.used.bytes >= 2 << 30)
        let metrics = try await bed.call(.metrics, as: JSONValue.self)["text"]?.stringValue ?? ""
        #expect(metrics.contains(#"gpuctl_backend_up{backend="tts"} 1"#))
        let speechCalls = metrics.split(separator: "\n").filter { $0.hasPrefix("gpuctl_backend_calls_total{") && $0.contains(#"backend="tts""#) && $0.contains("/v1/audio/speech") }
        #expect(speechCalls.count == 1 && speechCalls[0].hasSuffix(" 1"), "the TTS server's calls are counted: \(speechCalls)")
        let doctor = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "doctor"])
        #expect(doctor.stdout.contains("tts") && doctor.stdout.contains(bed.speech?.baseURL ?? "-"), "\(doctor)")
        try await bed.stop()
    }

    @Test func anLLMThatNeedsTheRoomUnloadsTheVoiceAndSpeakingBringsItBack() async throws {
        let bed = try await Self.bed()
        let speech = try #require(bed.speech)
        #expect(await eventually(within: .seconds(60)) { try await bed.call(.modelsList, as: ModelsListResult.self).models.contains { $0.name == "kokoro" && $0.state == "loaded" } })
        _ = try await bed.call(.generate, ["model": "llama", "prompt": "hi", "stream": false], as: JSONValue.self)
        let residentAfterLLM = await speech.isResident
        #expect(speech.unloads == 1 && !residentAfterLLM, "the voice's 2 GiB went back for the LLM")
        _ = try await bed.call(.speak, ["input": "back again"], as: SpeakResult.self)
        let residentAgain = await speech.isResident
        #expect(residentAgain && speech.loads == 2)
        #expect(await bed.ollama.loadCounts["llama3.1:8b"] == 1)
        #expect(await bed.gpu.peakBytes <= 8 << 30, "the card was never over its total")
        try await bed.stop()
    }

    @Test func refusalsAreOneSentenceWithAKind() async throws {
        let bed = try await Self.bed(vram: 16 << 30)
        #expect(try await bed.errorKind(.speak, ["input": "hi", "model": "kokro"]) == "model_not_found")
        #expect(try await bed.errorKind(.speak, ["input": "hi", "voice": "nobody"]) == "invalid_params")
        #expect(try await bed.errorKind(.speak, ["input": "  "]) == "invalid_params")
        #expect(try await bed.errorKind(.generate, ["model": "kokoro", "prompt": "hi"]) == "invalid_params")
        await bed.speech?.stop()
        #expect(try await bed.errorKind(.speak, ["input": "hi"]) == "backend_unavailable")
        try await bed.stop()

        let plain = try await BackendTestBed.start()
        let outcome = try await plain.stream(.speak, ["input": "hi"])
        guard case .failure(let error) = outcome.result else { Issue.record("speak without a TTS server succeeded"); return }
        #expect(error.data?.kind == "backend_unavailable" && error.message.contains("--tts-url"), "\(error.message)")
        try await plain.stop()
    }
}
