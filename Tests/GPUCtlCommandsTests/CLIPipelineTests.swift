import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// gpuctl pipelines / pipeline run / job, as processes against the daemon and the fakes (the
/// fake LLM answers a `format` schema with JSON of that shape).
@Suite(.timeLimit(.minutes(3))) struct CLIPipelineTests {
    @Test func runWaitPrintsTheSceneAndTheImageThenJobShowsTheSteps() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let socket = bed.daemon.socketPath
        let list = try await ChildProcess.run("gpuctl", ["--socket", socket, "pipelines"])
        #expect(list.status == 0 && list.stdout.hasPrefix("illustrated-scene  The LLM writes a short scene"), "\(list)")
        #expect(list.stdout.contains("    steps: scene (generate {{input.model}}) → illustration (comfy txt2img, optional)"), "\(list)")
        #expect(list.stdout.contains("    topic=string  required  What the scene is about."), "\(list)")

        let run = try await ChildProcess.run("gpuctl", ["--socket", socket, "pipeline", "run", "illustrated-scene",
                                                        "--set", "topic=a lighthouse", "--set", "model=llama3.1:8b", "--wait"])
        #expect(run.status == 0, "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 && lines[1].hasPrefix("scene: scene: "), "\(run)")
        let image = String(lines.first { $0.hasPrefix("image: ") }?.dropFirst(7) ?? "")
        #expect(image.hasSuffix(".png") && FileManager.default.fileExists(atPath: image), "\(run)")

        let jobs = try await ChildProcess.run("gpuctl", ["--socket", socket, "jobs"])
        let row = try #require(jobs.stdout.split(separator: "\n").first { $0.contains("pipeline illustrated-scene") }, "\(jobs)")
        let id = String(row.split(separator: " ")[0])
        let show = try await ChildProcess.run("gpuctl", ["--socket", socket, "job", id])
        #expect(show.status == 0 && show.stdout.contains("pipeline  illustrated-scene\n"), "\(show)")
        #expect(show.stdout.contains("\nstep      scene  succeeded  ") && show.stdout.contains("\nstep      illustration  succeeded  "), "\(show)")
        #expect(show.stdout.contains("            \(image)\n") && show.stdout.contains("\nresult\n  image: \(image)"), "\(show)")
        try await bed.stop()
    }

    @Test func aFailedOptionalStepIsShownWithWhyAndBadInputsAreOneLine() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let socket = bed.daemon.socketPath
        let bad = try await ChildProcess.run("gpuctl", ["--socket", socket, "pipeline", "run", "illustrated-scene", "--set", "topc=x"])
        #expect(bad.status == 1 && bad.stdout.isEmpty && bad.stderr.hasPrefix("gpuctl: ") && bad.stderr.contains("'topc'"), "\(bad)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad)")
        let unknown = try await ChildProcess.run("gpuctl", ["--socket", socket, "pipeline", "run", "ilustrated-scene"])
        #expect(unknown.status == 1 && unknown.stderr.contains("did you mean 'illustrated-scene'?"), "\(unknown)")

        bed.comfyui.configure { $0.failNextExecutions = (1, "RuntimeError", "mat1 and mat2 shapes cannot be multiplied") }
        let queued = try await ChildProcess.run("gpuctl", ["--socket", socket, "pipeline", "run", "illustrated-scene",
                                                           "--set", "topic=fog", "--set", "model=llama3.2:3b"])
        #expect(queued.status == 0 && queued.stdout.hasPrefix("pipeline run ") && queued.stdout.contains(" queued (gpuctl job "), "\(queued)")
        let id = String(queued.stdout.split(separator: " ")[2])
        let wait = try await ChildProcess.run("gpuctl", ["--socket", socket, "job", id, "--wait"])
        #expect(wait.status == 0 && wait.stdout.hasPrefix("image: (none)\nscene: "), "\(wait)")
        let show = try await ChildProcess.run("gpuctl", ["--socket", socket, "job", id])
        #expect(show.stdout.contains("\nstep      illustration  failed  ") && show.stdout.contains("(optional, the run went on): "), "\(show)")
        #expect(show.stdout.contains("mat1 and mat2 shapes cannot be multiplied"), "\(show)")
        try await bed.stop()
    }

    /// On a terminal, `--wait` prints a line per step and per fan-out item as each ends.
    @Test func onATerminalEachStepAndItemGetsALine() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let run = try PseudoTerminal("gpuctl", ["--socket", bed.daemon.socketPath, "pipeline", "run", "storyboard",
                                               "--set", "story=a fox at sea", "--set", "shots=3", "--set", "model=llama3.1:8b", "--wait"])
        #expect(await run.waitForExit(within: .seconds(60)) == 0, "\(run.output)")
        let lines = run.output.replacingOccurrences(of: "\r\u{1B}[K", with: "\n").split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        for unit in ["plan", "caption[0]", "caption[1]", "caption[2]", "frame[0]", "frame[1]", "frame[2]"] {
            #expect(lines.contains { $0.hasPrefix("\(unit)  succeeded  ") }, "no line for \(unit): \(run.output)")
        }
        #expect(run.output.contains("frames:\r\n  /") || run.output.contains("frames:\n  /"), "\(run.output)")
        try await bed.stop()
    }
}
