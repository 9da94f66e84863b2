import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The shipped pipelines against real backends, when the variables name them:
/// `GPUCTL_IT_OLLAMA` and `GPUCTL_IT_COMFYUI` for illustrated-scene (its illustration is
/// optional, so a ComfyUI without the SD 1.5 checkpoint still returns the scene, the failure
/// recorded), and `GPUCTL_IT_TTS` (a Kokoro-FastAPI, Speaches or openedai-speech URL;
/// `GPUCTL_IT_TTS_MODEL`, default `kokoro`, and `GPUCTL_IT_TTS_VOICE`, default `af_heart`) for
/// speech. `GPUCTL_IT_COMFYUI_MODELS=1` says that ComfyUI has the shipped workflows' models
/// (SD 1.5 for txt2img, Wan 2.1 for txt2video, Stable Audio Open for txt2audio): then the
/// storyboard runs, and with `GPUCTL_IT_TTS` the narrated clip. The LLM is the first of
/// `GPUCTL_IT_OLLAMA_MODELS`.
enum RealPipeline {
    static let environment = ProcessInfo.processInfo.environment
    static func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
    static let ollama = value("GPUCTL_IT_OLLAMA")
    static let comfyui = value("GPUCTL_IT_COMFYUI")
    static let tts = value("GPUCTL_IT_TTS")
    static let comfyModels = value("GPUCTL_IT_COMFYUI_MODELS") == "1"
    static let model = (value("GPUCTL_IT_OLLAMA_MODELS") ?? "llama3.2:1b").split(separator: ",").map(String.init)[0]
    static let ttsModel = value("GPUCTL_IT_TTS_MODEL") ?? "kokoro"
    static let voice = value("GPUCTL_IT_TTS_VOICE") ?? "af_heart"
}

@Suite(.timeLimit(.minutes(10)))
struct RealPipelineTests {
    func daemon(_ configure: @escaping (inout DaemonConfiguration) -> Void) async throws -> (TestDaemon, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let catalog = directory.file("models.json")
        try Data("""
            {"models": {"\(RealPipeline.model)": {"backend": "ollama", "vram": "2GiB"},
                        "\(RealPipeline.ttsModel)": {"backend": "tts", "vram": "1GiB"}}}
            """.utf8).write(to: URL(fileURLWithPath: catalog))
        let vram = ByteSize(parsing: RealPipeline.value("GPUCTL_IT_VRAM") ?? "24GiB") ?? .gibibytes(24)
        let daemon = try await TestDaemon.start(ollamaURL: RealPipeline.ollama ?? "http://127.0.0.1:9", comfyUIURL: RealPipeline.comfyui ?? "http://127.0.0.1:9") {
            $0.catalogPath = catalog
            $0.declaredVRAM = vram
            $0.workflowsDirectory = BackendTestBed.workflowsDirectory
            configure(&$0)
        }
        return (daemon, directory)
    }

    func call<T: Decodable & Sendable>(_ daemon: TestDaemon, _ method: RPCMethod, _ params: JSONValue, as: T.Type) async throws -> T {
        let path = daemon.socketPath
        return try await blocking {
            try JSONDecoder().decode(T.self, from: RPCClient(socketPath: path, timeout: .seconds(600)).callRaw(method.rawValue, params: params))
        }
    }

    @Test(.enabled(if: RealPipeline.ollama != nil && RealPipeline.comfyui != nil, "set GPUCTL_IT_OLLAMA and GPUCTL_IT_COMFYUI to run against real backends"))
    func theIllustratedSceneReturnsItsScene() async throws {
        let (daemon, directory) = try await daemon { _ in }
        let queued = try await call(daemon, .pipelineRun, ["pipeline": "illustrated-scene", "inputs": ["topic": "a lighthouse in fog", "model": .string(RealPipeline.model)]],
                                    as: JobInfo.self)
        let job = try await call(daemon, .jobsWait, ["id": .string(queued.id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let scene = job.result?["scene"]?.stringValue ?? ""
        #expect(scene.count > 0, "\(job.result ?? .null)")
        let illustration = job.steps?.first { $0.step == "illustration" }
        #expect(illustration?.state == "succeeded" || illustration?.error != nil, "an illustration that failed says why")
        try await daemon.stop()
        directory.remove()
    }

    @Test(.enabled(if: RealPipeline.ollama != nil && RealPipeline.comfyui != nil && RealPipeline.comfyModels,
                   "set GPUCTL_IT_OLLAMA, GPUCTL_IT_COMFYUI and GPUCTL_IT_COMFYUI_MODELS=1 to draw a storyboard"))
    func aTwoShotStoryboardDrawsTwoFrames() async throws {
        let (daemon, directory) = try await daemon { _ in }
        let queued = try await call(daemon, .pipelineRun, ["pipeline": "storyboard", "inputs": ["story": "a fox crosses a frozen lake", "shots": 2,
                                                                                              "model": .string(RealPipeline.model)]], as: JobInfo.self)
        let job = try await call(daemon, .jobsWait, ["id": .string(queued.id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let frames = (job.result?["frames"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(frames.count == (job.result?["shots"]?.arrayValue?.count ?? -1) && frames.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        try await daemon.stop()
        directory.remove()
    }

    @Test(.enabled(if: RealPipeline.ollama != nil && RealPipeline.comfyui != nil && RealPipeline.comfyModels && RealPipeline.tts != nil,
                   "set GPUCTL_IT_OLLAMA, GPUCTL_IT_COMFYUI, GPUCTL_IT_COMFYUI_MODELS=1 and GPUCTL_IT_TTS to make a narrated clip"))
    func aNarratedClipHasItsThreeFiles() async throws {
        let (daemon, directory) = try await daemon { $0.ttsURL = RealPipeline.tts }
        let queued = try await call(daemon, .pipelineRun, ["pipeline": "narrated-clip", "inputs": ["prompt": "a lighthouse in fog", "frames": 17, "seconds": 4,
                                                                                                 "model": .string(RealPipeline.model), "voice": .string(RealPipeline.voice)]],
                                    as: JobInfo.self)
        let job = try await call(daemon, .jobsWait, ["id": .string(queued.id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        for part in ["narration", "video", "music"] {
            let file = job.result?[part]?["file"]?.stringValue ?? ""
            #expect(FileManager.default.fileExists(atPath: file), "\(part): \(job.result ?? .null)")
        }
        try await daemon.stop()
        directory.remove()
    }

    @Test(.enabled(if: RealPipeline.tts != nil, "set GPUCTL_IT_TTS to speak with a real TTS server"))
    func aRealTTSServerSpeaksAWAV() async throws {
        let (daemon, directory) = try await daemon { $0.ttsURL = RealPipeline.tts }
        let result = try await call(daemon, .speak, ["input": "gpuctl speaks through the budget", "model": .string(RealPipeline.ttsModel),
                                                     "voice": .string(RealPipeline.voice)], as: SpeakResult.self)
        let audio = try #require(Data(base64Encoded: result.audio))
        #expect(Array(audio.prefix(4)) == Array("RIFF".utf8) && (result.seconds ?? 0) > 0.5, "\(result.bytes) bytes, \(result.seconds ?? 0) s")
        try await daemon.stop()
        directory.remove()
    }
}
