import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A backend down in the middle of a pipeline run: the step waits for it (up to
/// `--backend-wait`) and the run goes on, or fails naming the step.
@Suite(.timeLimit(.minutes(3))) struct PipelineFaultTests {
    func start(_ bed: BackendTestBed, _ pipeline: String, _ inputs: JSONValue) async throws -> String {
        try await bed.call(.pipelineRun, ["pipeline": .string(pipeline), "inputs": inputs], as: JobInfo.self).id
    }

    func steps(_ bed: BackendTestBed, _ id: String) async throws -> [PipelineStepInfo] {
        try await bed.call(.jobsGet, ["id": .string(id)], as: JobInfo.self).steps ?? []
    }

    @Test func ollamaDownMidRunIsWaitedForAndTheRunGoesOn() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let ollama = bed.ollama
        // Once the plan is asked for, every answer after it is slow (5 s): Ollama goes down
        // while the first caption is being written, whatever the machine's load.
        let plan = PipelineTests.script(shots: 3)
        ollama.configure {
            $0.script = { prompt, format in
                if format != nil { ollama.configure { $0.tokenDelay = .milliseconds(400) } }
                return plan(prompt, format)
            }
        }
        let id = try await start(bed, "storyboard", ["story": "a storm", "shots": 3, "model": "llama3.1:8b"])
        let writing = await eventually(within: .seconds(60)) {
            try await steps(bed, id).contains { $0.step == "caption" && $0.state == "running" }
        }
        #expect(writing)
        await ollama.stop()
        // The next caption waits for Ollama: running (the one in flight when it stopped may
        // have ended first), and nothing failed.
        let waitingForOllama = await eventually(within: .seconds(60)) {
            try await steps(bed, id).contains { $0.step == "caption" && $0.state == "running" }
        }
        let waiting = try await steps(bed, id)
        #expect(waitingForOllama && !waiting.contains { $0.state == "failed" }, "\(waiting)")
        ollama.configure { $0.tokenDelay = .zero }
        try await ollama.start()
        let job = try await bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let captions = (job.steps ?? []).filter { $0.step == "caption" }
        #expect(captions.count == 3 && captions.allSatisfy { $0.state == "succeeded" }, "\(captions)")
        #expect(job.steps?.first { $0.step == "plan" }?.attempts == 1)
        try await bed.stop()
    }

    @Test func ollamaDownPastTheWaitFailsTheRunNamingTheStep() async throws {
        let bed = try await BackendTestBed.startForJobs { $0.backendWait = .seconds(1) }
        await bed.ollama.stop()
        let id = try await start(bed, "illustrated-scene", ["topic": "fog", "model": "llama3.1:8b"])
        let job = try await bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(job.state == "failed", "\(job)")
        let error = job.error ?? ""
        #expect(error.hasPrefix("step 'scene' failed: ") && error.contains("Ollama") && error.contains("--backend-wait"), "\(error)")
        #expect(job.steps?.map(\.step) == ["scene"], "nothing after the failed step starts")
        try await bed.stop()
    }

    /// ComfyUI restarts mid-frame and forgets its queue: the frame's job is resubmitted by the
    /// job queue (as any job is) and the run still ends with every frame.
    @Test func comfyUIRestartingMidFrameStillEndsWithEveryFrame() async throws {
        let bed = try await BackendTestBed.startForJobs()
        bed.ollama.configure { $0.script = PipelineTests.script(shots: 3) }
        bed.comfyui.configure { $0.stepDelay = .milliseconds(30) }
        let id = try await start(bed, "storyboard", ["story": "a storm", "shots": 3, "model": "llama3.1:8b"])
        #expect(await eventually(within: .seconds(60)) { try await steps(bed, id).contains { $0.step == "frame" && $0.state == "running" } })
        try await bed.comfyui.restart()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(1) }
        let job = try await bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let frames = (job.result?["frames"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(frames.count == 3 && frames.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "\(job.result ?? .null)")
        try await bed.stop()
    }
}
