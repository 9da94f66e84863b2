import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The shipped narrated-clip pipeline against the fakes: the LLM writes a script, the TTS
/// server reads it (a WAV in the run's folder), ComfyUI makes a video and a music bed.
@Suite(.timeLimit(.minutes(3))) struct NarratedClipTests {
    static let catalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6GiB", "priority": 60},
      "kokoro": {"backend": "tts", "vram": "1GiB", "priority": 40}
    }}
    """

    @Test func aClipIsWrittenReadFilmedAndScored() async throws {
        let bed = try await BackendTestBed.start(vram: 16 << 30, catalog: Self.catalog, speech: { _ in })
        let queued = try await bed.call(.pipelineRun, ["pipeline": "narrated-clip", "inputs": ["prompt": "a lighthouse in fog", "model": "llama3.1:8b", "seconds": "6"]],
                                        as: JobInfo.self)
        let job = try await bed.call(.jobsWait, ["id": .string(queued.id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        #expect(job.steps?.map(\.step) == ["script", "narration", "video", "music"], "\(job.steps?.map(\.step) ?? [])")
        let result = try #require(job.result)
        let narration = try #require(result["narration"]?["file"]?.stringValue)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: narration)))
        #expect(narration.hasSuffix("/\(queued.id)/narration.wav") && Array(bytes.prefix(4)) == Array("RIFF".utf8))
        #expect(result["narration"]?["seconds"] == .number(WAVDuration.seconds(bytes) ?? -1) && result["narration"]?["bytes"] == .number(Double(bytes.count)))
        let video = try #require(result["video"]?["file"]?.stringValue)
        let music = try #require(result["music"]?["file"]?.stringValue)
        #expect(video.hasSuffix(".webp") && FileManager.default.fileExists(atPath: video), "\(result)")
        #expect(music.hasSuffix(".flac") && FileManager.default.fileExists(atPath: music), "\(result)")
        #expect(result["music"]?["seconds"] == 6 && result["video"]?["frames"] == 81)
        #expect((result["video"]?["bytes"]?.numberValue ?? 0) > 0 && (result["music"]?["bytes"]?.numberValue ?? 0) > 0)
        // The narrator read what the LLM wrote.
        #expect(bed.speech?.spoken == [result["script"]?["narration"]?.stringValue ?? "-"])
        #expect(await bed.gpu.peakBytes <= 16 << 30)
        try await bed.stop()
    }

    /// The TTS server down when the narration is due: the step waits for it, and the run
    /// goes on when it is back.
    @Test func theTTSServerDownIsWaitedFor() async throws {
        let bed = try await BackendTestBed.start(vram: 16 << 30, catalog: Self.catalog, speech: { _ in })
        let speech = try #require(bed.speech)
        await speech.stop()
        let queued = try await bed.call(.pipelineRun, ["pipeline": "narrated-clip", "inputs": ["prompt": "fog", "model": "llama3.1:8b"]],
                                        as: JobInfo.self)
        let waiting = await eventually(within: .seconds(60)) {
            let steps = try await bed.call(.jobsGet, ["id": .string(queued.id)], as: JobInfo.self).steps ?? []
            return steps.contains { $0.step == "narration" && $0.state == "running" }
        }
        #expect(waiting)
        try await speech.start()
        let job = try await bed.call(.jobsWait, ["id": .string(queued.id)], as: JobInfo.self)
        #expect(job.state == "succeeded" && job.steps?.first { $0.step == "narration" }?.attempts == 1, "\(job)")
        #expect(speech.spoken.count == 1)
        try await bed.stop()
    }

    @Test func withoutATTSServerTheRunIsRefusedBeforeAnythingRuns() async throws {
        let bed = try await BackendTestBed.start(catalog: Self.catalog)
        let outcome = try await bed.stream(.pipelineRun, ["pipeline": "narrated-clip", "inputs": ["prompt": "fog", "model": "llama3.1:8b"]])
        guard case .failure(let error) = outcome.result else { Issue.record("a speaking pipeline ran without a TTS server"); return }
        #expect(error.data?.kind == "invalid_params" && error.message.contains("step 'narration'") && error.message.contains("--tts-url"), "\(error.message)")
        let jobs = try await bed.call(.jobsList, as: JobsListResult.self)
        #expect(jobs.jobs.isEmpty)
        try await bed.stop()
    }
}
