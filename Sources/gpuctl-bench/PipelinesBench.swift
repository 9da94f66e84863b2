import ArgumentParser
import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport
import AsyncHTTPClient
import Logging
import OllamaClient

/// `gpuctl-bench pipelines`: a storyboard of N shots on the fakes, on a virtual card that
/// cannot hold the LLM and the checkpoint together, through a release gpuctld; against the
/// same calls made straight to the fakes in the same order (gpuctld's overhead per step) and
/// against what a script does (text and image per shot, `keep_alive: 0`, `/free` after each
/// image); writes its section of BENCHMARKS.md.
struct PipelinesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines", abstract: "Measure a storyboard pipeline: card switches, LLM loads, gpuctld's overhead per step.")
    @Option(help: "The report to update.") var output = "BENCHMARKS.md"
    @Option(help: "Shots in the storyboard.") var shots = 20
    @Option(help: "Runs of each side; the median wall time is reported.") var runs = 9

    static let title = "## Pipelines: a storyboard on a card that holds one model at a time (issue 13)"
    static let model = "llama3.1:8b"
    static let checkpoint = "v1-5-pruned-emaonly.safetensors"

    struct Side {
        var seconds = 0.0
        var llmLoads = 0
        var checkpointLoads = 0
        var switches: Int { llmLoads + checkpointLoads }
    }

    func run() async throws {
        let workspace = try BenchWorkspace(prefix: "gpuctl-bench-pipelines")
        defer { workspace.remove() }
        let gpu = VirtualGPU(totalBytes: 10 << 30)
        let ollama = FakeOllama(gpu: gpu)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await ollama.start()
        try await comfyui.start()
        let shots = self.shots
        ollama.configure {
            $0.tokens = 12
            $0.script = { prompt, format in
                guard format != nil else { return nil }
                let list = (0..<shots).map { #"{"action":"shot \#($0)","image_prompt":"frame \#($0)"}"# }.joined(separator: ",")
                return prompt.contains("storyboard") ? #"{"shots":[\#(list)]}"# : nil
            }
        }
        comfyui.configure { $0.stepDelay = .zero; $0.checkpointBytes = [Self.checkpoint: 5 << 30] }
        let template = try Self.txt2img()
        let log = { (line: String) in FileHandle.standardError.write(Data("gpuctl-bench: \(line)\n".utf8)) }

        log("pipelines: \(shots) shots as a script does them (keep_alive 0, /free after each image)")
        let script = try await Self.measure(ollama, comfyui) {
            try await Self.drive(ollama.baseURL, comfyui.baseURL, template: template, shots: shots, interleaved: true)
        }

        let directory = workspace.directory
        let catalog = "\(directory)/models.json"
        try Data("""
            {"models": {"\(Self.model)": {"backend": "ollama", "vram": "6.2GiB"},
                        "\(Self.checkpoint)": {"backend": "comfyui", "vram": "5GiB"}}}
            """.utf8).write(to: URL(fileURLWithPath: catalog))
        let socket = "\(directory)/p.sock"
        let daemon = try BenchProcess.start(workspace.products.appendingPathComponent("gpuctld").path, [
            "--socket", socket, "--state-dir", "\(directory)/state", "--vram", "10GiB",
            "--workflows", FileManager.default.currentDirectoryPath + "/Workflows", "--config", catalog,
            "--output-dir", "\(directory)/outputs", "--min-residency", "0s",
            "--ollama-url", ollama.baseURL, "--comfyui-url", comfyui.baseURL, "--log-level", "error"])
        defer { daemon.stop() }
        try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
        // One warm-up run, so both sides start with a store and connections made.
        _ = try await Self.runPipeline(socket, shots: 2)
        // The two sides alternate, run after run, so the machine's drift falls on both.
        log("pipelines: \(runs) × \(shots) shots straight to the fakes in gpuctld's order, then through gpuctld")
        var directRuns: [Side] = []
        var throughRuns: [Side] = []
        var cpuTicks = 0
        var ran: JobInfo?
        for _ in 0..<max(1, runs) {
            directRuns.append(try await Self.measure(ollama, comfyui) {
                try await Self.drive(ollama.baseURL, comfyui.baseURL, template: template, shots: shots, interleaved: false)
            })
            let ticksBefore = ProcessStats.cpuTicks(pid: daemon.pid) ?? 0
            throughRuns.append(try await Self.measure(ollama, comfyui) { ran = try await Self.runPipeline(socket, shots: shots) })
            cpuTicks += (ProcessStats.cpuTicks(pid: daemon.pid) ?? 0) - ticksBefore
        }
        let direct = Self.median(directRuns)
        let through = Self.median(throughRuns)
        let overheads = zip(throughRuns, directRuns).map { ($0.seconds - $1.seconds) * 1000 }.sorted()
        let cpuMillis = Double(cpuTicks) / ProcessStats.ticksPerSecond * 1e3 / Double(max(1, runs))
        guard let job = ran else { throw ValidationError("the storyboard did not run") }
        guard job.state == "succeeded" else { throw ValidationError("the storyboard did not succeed: \(job.error ?? job.state)") }
        let kinds = (job.steps ?? []).map(\.kind)
        let changes = zip(kinds, kinds.dropFirst()).filter { ($0 == "comfy") != ($1 == "comfy") }.count
        let section = Self.section(shots: shots, runs: runs, direct: direct, script: script, through: through, steps: kinds.count,
                                   backendChanges: changes, cpuMillis: cpuMillis, overheads: overheads)
        let existing = (try? String(contentsOfFile: output, encoding: .utf8)) ?? "# Benchmarks\n"
        try Report.replacingSection(Self.title, with: section, in: existing).write(toFile: output, atomically: true, encoding: .utf8)
        print(section)
        await ollama.stop()
        await comfyui.stop()
    }

    /// The run with the median wall time (their loads are the same each time).
    static func median(_ sides: [Side]) -> Side {
        sides.sorted { $0.seconds < $1.seconds }[sides.count / 2]
    }

    static func txt2img() throws -> WorkflowTemplate {
        let folder = FileManager.default.currentDirectoryPath + "/Workflows"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        let catalog = WorkflowCatalog.load(fileNames: names) { FileManager.default.contents(atPath: "\(folder)/\($0)") }
        guard let template = catalog.templates["txt2img"] else { throw ValidationError("Workflows/txt2img.json is missing: run from the repository") }
        return template
    }

    /// Runs `body` and counts the loads the fakes saw during it.
    static func measure(_ ollama: FakeOllama, _ comfyui: FakeComfyUI, _ body: () async throws -> Void) async throws -> Side {
        try await settle(ollama, comfyui)
        let llmBefore = await ollama.loadCounts[model] ?? 0
        let checkpointBefore = await comfyui.checkpointLoads[checkpoint] ?? 0
        let started = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - started
        return Side(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                    llmLoads: (await ollama.loadCounts[model] ?? 0) - llmBefore,
                    checkpointLoads: (await comfyui.checkpointLoads[checkpoint] ?? 0) - checkpointBefore)
    }

    /// Every side starts from an empty card.
    static func settle(_ ollama: FakeOllama, _ comfyui: FakeComfyUI) async throws {
        try await withHTTPClient { http in
            let client = OllamaClient(baseURL: ollama.baseURL, httpClient: http, logger: Logger(label: "bench"))
            for running in try await client.runningModels() { try await client.unload(running.name) }
            try await ComfyUIClient(baseURL: comfyui.baseURL, httpClient: http, logger: Logger(label: "bench")).free()
            while !(try await client.runningModels().isEmpty) { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    /// The storyboard's calls straight to the fakes: the plan, then either every caption and
    /// every frame (gpuctld's order: one unload between), or caption and frame per shot with
    /// `keep_alive: 0` and `/free` (a script that does not know which model comes next).
    static func drive(_ ollamaURL: String, _ comfyURL: String, template: WorkflowTemplate, shots: Int, interleaved: Bool) async throws {
        try await withHTTPClient { http in
            let ollama = OllamaClient(baseURL: ollamaURL, httpClient: http, logger: Logger(label: "bench"))
            let comfy = ComfyUIClient(baseURL: comfyURL, httpClient: http, logger: Logger(label: "bench"))
            @Sendable func generate(_ prompt: String, format: JSONValue? = nil, keepAlive: JSONValue? = nil) async throws {
                var body: [String: JSONValue] = ["model": .string(model), "prompt": .string(prompt), "stream": false]
                if let format { body["format"] = format }
                if let keepAlive { body["keep_alive"] = keepAlive }
                var request = HTTPClientRequest(url: "\(ollamaURL)/api/generate")
                request.method = .POST
                request.body = .bytes(JSONWriter.data(.object(body)))
                let response = try await http.execute(request, timeout: .seconds(60))
                _ = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw ValidationError("generate answered \(response.status)") }
            }
            @Sendable func unloaded() async throws {
                while !(try await ollama.runningModels().isEmpty) { try await Task.sleep(for: .milliseconds(2)) }
            }
            try await comfy.withEvents(clientID: "bench-pipeline") { events in
                var iterator = events.makeAsyncIterator()
                while let item = await iterator.next() { if case .connected = item { break } }
                func frame(_ index: Int) async throws {
                    let graph = try template.graph(with: ["prompt": .string("storyboard frame, frame \(index)"), "seed": .number(Double(index))])
                    let id = UUID().uuidString.lowercased()
                    _ = try await comfy.submit(graph: graph, clientID: "bench-pipeline", promptID: id)
                    while let item = await iterator.next() {
                        if case .event(.executionSuccess(let done)) = item, done == id { break }
                    }
                    for (_, output) in try await comfy.history(id)?.outputs ?? [:] {
                        for image in output["images"]?.arrayValue ?? [] {
                            _ = try await comfy.view(filename: image["filename"]?.stringValue ?? "", subfolder: image["subfolder"]?.stringValue ?? "",
                                                     type: image["type"]?.stringValue ?? "output")
                        }
                    }
                }
                try await generate("Split this story into exactly \(shots) shots for a storyboard: a fox crosses the sea.", format: ["type": "object"])
                if interleaved {
                    for index in 0..<shots {
                        try await generate("Write a one-sentence caption for shot \(index): shot \(index)", keepAlive: .number(0))
                        try await unloaded()
                        try await frame(index)
                        try await comfy.free()
                    }
                } else {
                    for index in 0..<shots { try await generate("Write a one-sentence caption for shot \(index): shot \(index)") }
                    try await ollama.unload(model)
                    try await unloaded()
                    for index in 0..<shots { try await frame(index) }
                }
                return ()
            }
        }
    }

    static func runPipeline(_ socket: String, shots: Int) async throws -> JobInfo {
        try await OllamaBench.onThread {
            let client = try RPCClient(socketPath: socket, timeout: .seconds(600))
            let params = PipelineRunParams(pipeline: "storyboard", inputs: ["story": "a fox crosses the sea", "shots": .number(Double(shots)), "model": .string(model)])
            let queued = try client.call(.pipelineRun, params: params.json, as: JobInfo.self)
            _ = try client.callRaw(RPCMethod.jobsWait.rawValue, params: JobIDParams(id: queued.id).json) { _ in }
            return try client.call(.jobsGet, params: ["id": .string(queued.id)], as: JobInfo.self)
        }
    }

    static func section(shots: Int, runs: Int, direct: Side, script: Side, through: Side, steps: Int, backendChanges: Int, cpuMillis: Double, overheads: [Double]) -> String {
        func mark(_ met: Bool) -> String { met ? "met" : "**missed**" }
        // The median of the per-run differences (each run next to its own baseline).
        let overhead = overheads[overheads.count / 2] / Double(steps)
        let range = String(format: "%.2f–%.2f ms", overheads.first! / Double(steps), overheads.last! / Double(steps))
        let ms = { (seconds: Double) in String(format: "%.0f ms", seconds * 1000) }
        return """
        \(title)

        Measured by `gpuctl-bench pipelines` on \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Date().formatted(.iso8601)). Reproduce with:

        ```sh
        swift build -c release && .build/release/gpuctl-bench pipelines
        ```

        The shipped `storyboard` pipeline with \(shots) shots: the LLM plans the shots as JSON, writes a
        caption per shot, and txt2img draws a frame per shot (\(steps) steps). The fakes of
        GPUCtlTestSupport run in the benchmark's process on a virtual 10 GiB card; the LLM
        (6.2 GiB) and the checkpoint (5 GiB, plus 2 GiB of sampling headroom) do not fit
        together. gpuctld is a release build, a process of its own. A *switch* is a model loaded
        onto the card (the LLM by Ollama, the checkpoint by ComfyUI), counted by the fakes.
        Baselines in the same run, straight to the fakes with no gpuctld: the same calls in the
        order gpuctld chose (all captions, one unload, all frames; its runs alternate with
        gpuctld's), and what a script does (caption then frame for each shot, `keep_alive: 0` on
        the caption, `/free` after the frame).

        | \(shots)-shot storyboard (median of \(runs) runs) | wall time | LLM loads | checkpoint loads | switches |
        |---|---|---|---|---|
        | through gpuctld (`pipeline.run` + `jobs.wait`) | \(ms(through.seconds)) | \(through.llmLoads) | \(through.checkpointLoads) | \(through.switches) |
        | straight to the fakes, gpuctld's order | \(ms(direct.seconds)) | \(direct.llmLoads) | \(direct.checkpointLoads) | \(direct.switches) |
        | straight to the fakes, a script's order (one run) | \(ms(script.seconds)) | \(script.llmLoads) | \(script.checkpointLoads) | \(script.switches) |

        | target | measured | |
        |---|---|---|
        | card switches: 2 | \(through.switches) (the steps ran \(backendChanges + 1) runs of one backend) | \(mark(through.switches <= 2)) |
        | LLM loads: 1 | \(through.llmLoads) | \(mark(through.llmLoads == 1)) |
        | gpuctld's overhead per step: ≤ 5 ms | \(String(format: "%.2f ms", overhead)) (median over \(runs) runs of (through − straight, gpuctld's order) / \(steps) steps; \(range)) | \(mark(overhead <= 5)) |

        gpuctld used \(String(format: "%.2f ms", cpuMillis / Double(steps))) of CPU per step (user + system time from /proc) for
        what it adds: the run and each step written to the store as it starts and ends, the
        references resolved, each LLM step admitted by the Scheduler, each frame a durable
        ComfyUI job of its own (queued, admitted, submitted, followed, its file downloaded).
        """
    }
}
