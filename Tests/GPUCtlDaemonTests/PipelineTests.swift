import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Pipelines through the daemon against the fakes: the LLM (scripted to write JSON when asked
/// for it) and ComfyUI share one virtual card; each run is a durable job whose steps are
/// recorded as they start and end.
@Suite(.timeLimit(.minutes(3))) struct PipelineTests {
    /// The fake LLM's answers: a scene as JSON, a plan of `shots` shots, a caption otherwise.
    static func script(shots: Int = 3) -> @Sendable (String, JSONValue?) -> String? {
        { prompt, format in
            guard format != nil else { return "A caption for: \(prompt.suffix(30))" }
            if prompt.contains("storyboard") {
                let list = (0..<shots).map { #"{"action":"shot \#($0) action","image_prompt":"frame \#($0)"}"# }.joined(separator: ",")
                return #"{"shots":[\#(list)]}"#
            }
            return #"{"scene":"The lighthouse keeper counts the ships.","image_prompt":"a lighthouse at dusk"}"#
        }
    }

    func run(_ bed: BackendTestBed, _ pipeline: String, _ inputs: JSONValue) async throws -> JobInfo {
        let job = try await bed.call(.pipelineRun, ["pipeline": .string(pipeline), "inputs": inputs], as: JobInfo.self)
        #expect(job.pipeline == pipeline && job.state == "queued")
        _ = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        return try await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self)
    }

    @Test func anIllustratedSceneIsWrittenThenDrawn() async throws {
        let bed = try await BackendTestBed.startForJobs()
        bed.ollama.configure { $0.script = Self.script() }
        let job = try await run(bed, "illustrated-scene", ["topic": "a lighthouse", "model": "llama3.1:8b"])
        #expect(job.state == "succeeded", "\(job)")
        #expect(job.steps?.map(\.step) == ["scene", "illustration"] && job.steps?.allSatisfy { $0.state == "succeeded" } == true)
        #expect(job.result?["scene"] == "The lighthouse keeper counts the ships.")
        let image = try #require(job.result?["image"]?.stringValue)
        #expect(FileManager.default.fileExists(atPath: image))
        // The illustration is a ComfyUI job of its own, with the prompt the LLM wrote.
        let child = try #require(job.steps?.last?.job)
        let comfy = try await bed.call(.jobsGet, ["id": .string(child)], as: JobInfo.self)
        #expect(comfy.state == "succeeded" && comfy.workflow == "txt2img")
        // On 16 GiB the LLM (6 GiB) and the checkpoint (5 GiB and its headroom) fit together:
        // the LLM was kept while the image was drawn.
        let models = try await bed.call(.modelsList, as: ModelsListResult.self)
        #expect(models.models.first { $0.name == "llama3.1:8b" }?.state == "loaded")
        #expect(await bed.ollama.loadCounts["llama3.1:8b"] == 1)
        try await bed.stop()
    }

    @Test func aFailedOptionalIllustrationKeepsTheScene() async throws {
        let bed = try await BackendTestBed.startForJobs()
        bed.ollama.configure { $0.script = Self.script() }
        bed.comfyui.configure { $0.failNextExecutions = (1, "RuntimeError", "mat1 and mat2 shapes cannot be multiplied") }
        let job = try await run(bed, "illustrated-scene", ["topic": "a lighthouse", "model": "llama3.1:8b"])
        #expect(job.state == "succeeded", "\(job)")
        #expect(job.result?["scene"] == "The lighthouse keeper counts the ships." && job.result?["image"] == .null)
        let illustration = try #require(job.steps?.first { $0.step == "illustration" })
        #expect(illustration.state == "failed" && illustration.optional)
        #expect(illustration.error?.contains("failed") == true, "\(illustration)")
        try await bed.stop()
    }

    @Test func aReplyThatIsNotJSONFailsTheStepQuotingItAfterItsRetry() async throws {
        let bed = try await BackendTestBed.startForJobs()
        bed.ollama.configure { $0.script = { _, _ in "Sure! Here is your scene: a lighthouse." } }
        let job = try await run(bed, "illustrated-scene", ["topic": "a lighthouse", "model": "llama3.1:8b"])
        #expect(job.state == "failed")
        #expect(job.error == #"step 'scene' failed: the reply is not the JSON the step asked for: "Sure! Here is your scene: a lighthouse.""#, "\(job)")
        #expect(job.steps?.first?.attempts == 2 && job.steps?.count == 1)
        try await bed.stop()
    }

    /// On a card that cannot hold the LLM and the checkpoint together, a storyboard writes
    /// every caption, then draws every frame: the LLM is loaded once.
    @Test func aStoryboardSwitchesTheCardOnce() async throws {
        let bed = try await BackendTestBed.startForJobs(vram: 10 << 30)
        bed.ollama.configure { $0.script = Self.script(shots: 4) }
        let job = try await run(bed, "storyboard", ["story": "a storm at sea", "shots": 4, "model": "llama3.1:8b"])
        #expect(job.state == "succeeded", "\(job)")
        let kinds = (job.steps ?? []).map(\.kind)
        #expect(kinds == ["generate"] + Array(repeating: "generate", count: 4) + Array(repeating: "comfy", count: 4), "\(kinds)")
        #expect(await bed.ollama.loadCounts["llama3.1:8b"] == 1)
        #expect(job.result?["captions"]?.arrayValue?.count == 4 && job.result?["frames"]?.arrayValue?.count == 4)
        try await bed.stop()
    }

    @Test func badInputsAreRefusedBeforeAnythingRuns() async throws {
        let bed = try await BackendTestBed.startForJobs()
        #expect(try await bed.errorKind(.pipelineRun, ["pipeline": "illustrated-scene", "inputs": ["topik": "x"]]) == "invalid_params")
        #expect(try await bed.errorKind(.pipelineRun, ["pipeline": "illustrated-scene", "inputs": [:]]) == "invalid_params")
        #expect(try await bed.errorKind(.pipelineRun, ["pipeline": "storyboard", "inputs": ["story": "x", "shots": "many"]]) == "invalid_params")
        #expect(try await bed.errorKind(.pipelineRun, ["pipeline": "nosuch"]) == "invalid_params")
        let list = try await bed.call(.pipelinesList, as: PipelinesListResult.self)
        #expect(list.pipelines.map(\.name) == ["illustrated-scene", "narrated-clip", "storyboard"] && list.broken.isEmpty, "\(list.broken)")
        #expect(list.pipelines.last?.steps.map(\.id) == ["plan", "caption", "frame"])
        try await bed.stop()
    }

    /// Cancelled mid-fan-out: the frame being drawn is stopped and no further one starts.
    @Test func cancellingMidFanOutStopsTheRunningStepAndStartsNoMore() async throws {
        let bed = try await BackendTestBed.startForJobs()
        bed.ollama.configure { $0.script = Self.script(shots: 4) }
        bed.comfyui.configure { $0.holdSamplers = true }
        let job = try await bed.call(.pipelineRun, ["pipeline": "storyboard", "inputs": ["story": "x", "shots": 4, "model": "llama3.1:8b"]],
                                     as: JobInfo.self)
        #expect(await eventually(within: .seconds(60)) {
            let info = try await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self)
            return info.steps?.contains { $0.kind == "comfy" && $0.state == "running" } == true
        })
        let cancelled = try await bed.call(.jobsCancel, ["id": .string(job.id)], as: JobInfo.self)
        #expect(cancelled.state == "cancelled")
        let frames = (cancelled.steps ?? []).filter { $0.kind == "comfy" }
        #expect(frames.count == 1 && frames.first?.state == "failed" && frames.first?.error == "cancelled", "\(frames)")
        let child = try #require(frames.first?.job)
        #expect(await eventually { (try? await bed.call(.jobsGet, ["id": .string(child)], as: JobInfo.self))?.state == "cancelled" })
        try await bed.stop()
    }
}
