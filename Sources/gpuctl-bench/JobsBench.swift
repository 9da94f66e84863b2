import AsyncHTTPClient
import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUCtlTestSupport
import Logging

/// Issue 4's numbers: queue bookkeeping (enqueue, restart), gpuctld's overhead per ComfyUI job
/// against driving the fake ComfyUI directly, and the hand-over from Ollama to a job.
struct JobsNumbers {
    var enqueueCount = 0
    var enqueueSeconds = 0.0
    /// The same number of submissions from one client that keeps `pipelineWindow` in flight.
    var pipelinedSeconds = 0.0
    var pipelineWindow = 64
    var pingSeconds = 0.0
    var readyQueued: LatencySummary?
    var readyEmpty: LatencySummary?
    var jobsRun = 0
    var directMillisPerJob = 0.0
    var gpuctldMillisPerJob = 0.0
    /// gpuctld's CPU time (user + system) per job over those runs.
    var gpuctldCPUMillisPerJob = 0.0
    var handover: LatencySummary?
    var unloadMillis = 0.0
    /// Mean milliseconds from each state to the next, read from the store's events.
    var phases: [(from: String, to: String, millis: Double)] = []
}

enum JobsBench {
    static func run(products: URL, directory: String, jobs: Int = 10_000, log: (String) -> Void) async throws -> JobsNumbers {
        var numbers = JobsNumbers()
        numbers.enqueueCount = jobs
        let gpuctld = products.appendingPathComponent("gpuctld").path
        let workflows = FileManager.default.currentDirectoryPath + "/Workflows"

        // 1. Enqueue with ComfyUI unreachable, so every job stays queued; ping on the same
        //    connection is the baseline (the RPC alone).
        let socket = "\(directory)/jobs.sock"
        let state = "\(directory)/jobs-state"
        let arguments = ["--socket", socket, "--state-dir", state, "--vram", "24GiB", "--workflows", workflows,
                         "--ollama-url", "http://127.0.0.1:9", "--comfyui-url", "http://127.0.0.1:9", "--log-level", "error"]
        var daemon = try BenchProcess.start(gpuctld, arguments)

        try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
        log("jobs: \(jobs) comfy.submit on one connection, against \(jobs) pings")
        (numbers.pingSeconds, numbers.enqueueSeconds) = try await OllamaBench.onThread {
            let client = try RPCClient(socketPath: socket, timeout: .seconds(60))
            let pingStart = ContinuousClock.now
            for _ in 0..<jobs { _ = try client.callRaw(RPCMethod.ping.rawValue) }
            let ping = Clock.microseconds(since: pingStart) / 1e6
            let start = ContinuousClock.now
            for index in 0..<jobs {
                var submit = SubmitParams(.workflow("invert", values: ["prefix": .string("bench\(index)")]))
                submit.requestClass = index % 2 == 0 ? .batch : .interactive
                _ = try client.callRaw(RPCMethod.comfySubmit.rawValue, params: submit.json)
            }
            return (ping, Clock.microseconds(since: start) / 1e6)
        }
        daemon.stop()
        // The same again into a fresh store, with many requests in flight on one connection
        // (JSON-RPC ids tell the answers apart): what a script submitting a batch can do.
        var pipelinedArguments = arguments
        pipelinedArguments[3] = "\(directory)/jobs-pipelined"
        daemon = try BenchProcess.start(gpuctld, pipelinedArguments)
        try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
        log("jobs: \(jobs) comfy.submit with \(numbers.pipelineWindow) in flight")
        let window = numbers.pipelineWindow
        numbers.pipelinedSeconds = try await OllamaBench.onThread {
            let client = try RPCClient(socketPath: socket, timeout: .seconds(60))
            let start = ContinuousClock.now
            var sent = 0, answered = 0
            while answered < jobs {
                while sent < jobs, sent - answered < window {
                    var submit = SubmitParams(.workflow("invert", values: ["prefix": .string("pipe\(sent)")]))
                    submit.requestClass = sent % 2 == 0 ? .batch : .interactive
                    try client.send(RPCWire.request(id: .number(Double(sent + 1)), method: RPCMethod.comfySubmit.rawValue,
                                                    params: submit.json))
                    sent += 1
                }
                let answer = try JSONParser.parse(client.readLine())
                guard answer["error"] == nil else { throw RPCClientError.protocolError("comfy.submit failed: \(answer.jsonText)") }
                answered += 1
            }
            return Clock.microseconds(since: start) / 1e6
        }
        daemon.stop()

        // 2. Restart: spawn until ping answers, with the 10,000 queued jobs and with an empty store.
        log("jobs: 5 restarts with \(jobs) queued, 5 with an empty store")
        var queued: [Double] = [], empty: [Double] = []
        for round in 0..<5 {
            for (target, stateDir) in [(0, state), (1, "\(directory)/empty-\(round)")] {
                var args = arguments
                args[3] = stateDir
                let started = ContinuousClock.now
                daemon = try BenchProcess.start(gpuctld, args)
                try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
                let elapsed = Clock.microseconds(since: started)
                if target == 0 { queued.append(elapsed) } else { empty.append(elapsed) }
                daemon.stop()
            }
        }
        numbers.readyQueued = LatencySummary(queued)
        numbers.readyEmpty = LatencySummary(empty)

        // 3. Per job: zero-time nodes on the fake, driven directly and through gpuctld.
        let gpu = VirtualGPU(totalBytes: 10 << 30)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await comfyui.start()
        comfyui.configure { $0.stepDelay = .zero; $0.checkpointBytes = ["v1-5-pruned-emaonly.safetensors": 5 << 30] }
        let runs = 200
        numbers.jobsRun = runs
        log("jobs: \(runs) model-free jobs one after another, directly and through gpuctld")
        numbers.directMillisPerJob = try await direct(comfyui.baseURL, runs: runs) / Double(runs)
        let ollama = FakeOllama(gpu: gpu)
        try await ollama.start()
        let catalog = "\(directory)/models.json"
        try Data("""
            {"models": {"llama3.1:8b": {"backend": "ollama", "vram": "6.2GiB"},
                        "v1-5-pruned-emaonly.safetensors": {"backend": "comfyui", "vram": "5GiB"}}}
            """.utf8).write(to: URL(fileURLWithPath: catalog))
        let liveArguments = ["--socket", socket, "--state-dir", "\(directory)/live-state", "--vram", "10GiB", "--workflows", workflows,
                             "--config", catalog, "--output-dir", "\(directory)/outputs", "--min-residency", "0s",
                             "--ollama-url", ollama.baseURL, "--comfyui-url", comfyui.baseURL, "--log-level", "error"]
        daemon = try BenchProcess.start(gpuctld, liveArguments)
        defer { daemon.stop() }
        try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
        let ticksBefore = ProcessStats.cpuTicks(pid: daemon.pid) ?? 0
        let (perJob, ids) = try await OllamaBench.onThread {
            let client = try RPCClient(socketPath: socket, timeout: .seconds(60))
            var ids: [String] = []
            let start = ContinuousClock.now
            for index in 0..<runs {
                let reply = try client.callRaw(RPCMethod.comfySubmit.rawValue, params: SubmitParams(.workflow("invert", values: ["prefix": .string("g\(index)")])).json)
                let id = try JSONDecoder().decode(JobInfo.self, from: reply).id
                _ = try client.callRaw(RPCMethod.jobsWait.rawValue, params: JobIDParams(id: id).json) { _ in }
                ids.append(id)
            }
            return (Clock.microseconds(since: start) / 1e3 / Double(runs), ids)
        }
        numbers.gpuctldMillisPerJob = perJob
        let ticks = (ProcessStats.cpuTicks(pid: daemon.pid) ?? 0) - ticksBefore
        numbers.gpuctldCPUMillisPerJob = Double(ticks) / ProcessStats.ticksPerSecond * 1e3 / Double(runs)
        numbers.phases = try phases(of: ids, stateDirectory: "\(directory)/live-state")

        // 4. Ollama → ComfyUI: a generate holds a 6.2 GiB model; a 5 GiB job waits; from the
        //    generate's answer to the job's `submitted` notification, minus the fake's unload time.
        let unload = Duration.milliseconds(100)
        numbers.unloadMillis = 100
        ollama.configure { $0.unloadDelay = unload; $0.tokens = 50; $0.tokenDelay = .milliseconds(2) }
        log("jobs: 10 hand-overs from a finished Ollama request to a submitted ComfyUI job")
        var handovers: [Double] = []
        for index in 0..<11 {
            let gap = try await handover(socket: socket, seed: index)
            if index > 0 { handovers.append(gap - 100_000) }
        }
        numbers.handover = LatencySummary(handovers)
        await ollama.stop()
        await comfyui.stop()
        return numbers
    }

    /// What gpuctld does per job, without it: follow /ws, submit, wait for success, read the
    /// history, download the file. Returns the total milliseconds.
    static func direct(_ baseURL: String, runs: Int) async throws -> Double {
        try await withHTTPClient { http in
            let client = ComfyUIClient(baseURL: baseURL, httpClient: http, logger: Logger(label: "bench"))
            let graph = try JSONParser.parse(Data(contentsOf: URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/Workflows/invert.json")))
            return try await client.withEvents(clientID: "bench-direct") { events in
                var iterator = events.makeAsyncIterator()
                while let item = await iterator.next() { if case .connected = item { break } }
                let start = ContinuousClock.now
                for index in 0..<runs {
                    guard case .object(var nodes) = graph, case .object(var save)? = nodes["3"], case .object(var inputs)? = save["inputs"] else { break }
                    inputs["filename_prefix"] = .string("d\(index)")
                    save["inputs"] = .object(inputs)
                    nodes["3"] = .object(save)
                    let id = UUID().uuidString.lowercased()
                    _ = try await client.submit(graph: .object(nodes), clientID: "bench-direct", promptID: id)
                    while let item = await iterator.next() {
                        if case .event(.executionSuccess(let done)) = item, done == id { break }
                    }
                    let entry = try await client.history(id)
                    for (_, output) in entry?.outputs ?? [:] {
                        guard case .array(let images)? = output["images"] else { continue }
                        for image in images {
                            _ = try await client.view(filename: image["filename"]?.stringValue ?? "", subfolder: image["subfolder"]?.stringValue ?? "",
                                                      type: image["type"]?.stringValue ?? "output")
                        }
                    }
                }
                return Clock.microseconds(since: start) / 1e3
            }
        }
    }

    /// Where a job's time went, from the events the daemon wrote (millisecond timestamps, so
    /// only the mean over many jobs means anything).
    static func phases(of ids: [String], stateDirectory: String) throws -> [(from: String, to: String, millis: Double)] {
        let store = try JobStore(directory: stateDirectory)
        defer { try? store.close() }
        var totals: [String: (sum: Double, count: Int)] = [:]
        var order: [String] = []
        for id in ids {
            let events = try store.events(jobID: id).filter { $0.state != nil }
            for (earlier, later) in zip(events, events.dropFirst()) {
                let key = "\(earlier.state!.rawValue) → \(later.state!.rawValue)"
                if totals[key] == nil { order.append(key) }
                totals[key, default: (0, 0)].sum += later.at.timeIntervalSince(earlier.at) * 1000
                totals[key, default: (0, 0)].count += 1
            }
        }
        return order.map { key in
            let parts = key.components(separatedBy: " → ")
            return (parts[0], parts[1], totals[key]!.sum / Double(totals[key]!.count))
        }
    }

    /// One hand-over: returns microseconds from the generate's answer to the job's submission.
    static func handover(socket: String, seed: Int) async throws -> Double {
        try await OllamaBench.onThread {
            let generating = LockedBox<ContinuousClock.Instant?>(nil)
            let submitted = LockedBox<ContinuousClock.Instant?>(nil)
            let generator = Thread {
                _ = try? RPCClient(socketPath: socket, timeout: .seconds(60)).callRaw(RPCMethod.generate.rawValue, params: GenerateParams(model: "llama3.1:8b", prompt: "hi").json) { _ in
                    if generating.value == nil { generating.mutate { $0 = .now } }
                }
                generating.mutate { $0 = .now }
            }
            // The job is queued while the model streams, so it must wait for the unload.
            generator.start()
            while generating.value == nil { usleep(500) }
            let client = try RPCClient(socketPath: socket, timeout: .seconds(60))
            let reply = try client.callRaw(RPCMethod.comfySubmit.rawValue, params: SubmitParams(.workflow("txt2img", values: ["prompt": "x", "steps": 1, "seed": .number(Double(seed))])).json)
            let id = try JSONDecoder().decode(JobInfo.self, from: reply).id
            _ = try client.callRaw(RPCMethod.jobsWait.rawValue, params: JobIDParams(id: id).json) { data in
                if submitted.value == nil, let note = try? JSONDecoder().decode(JobNotification.self, from: data), note.state == "submitted" {
                    submitted.mutate { $0 = .now }
                }
            }
            while !generator.isFinished { usleep(500) }
            guard let end = generating.value, let start = submitted.value else { return .nan }
            let elapsed = start - end
            return Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
        }
    }
}
