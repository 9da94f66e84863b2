import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import AsyncHTTPClient
import ComfyUIClient
import Logging
import Testing

/// Bad input refused before anything is queued, and the faults a job must survive.
@Suite(.timeLimit(.minutes(3))) struct ComfyJobFaultTests {
    static func message(_ bed: BackendTestBed, _ params: JSONValue) async throws -> (kind: String?, message: String) {
        let path = bed.daemon.socketPath
        return try await blocking {
            do {
                _ = try RPCClient(socketPath: path).callRaw("comfy.submit", params: params)
                return (nil, "")
            } catch RPCClientError.remote(let payload) {
                return (payload.data?.kind, payload.message)
            }
        }
    }

    @Test func badInputIsRefusedBeforeAnythingIsQueued() async throws {
        let bed = try await ComfyJobTests.start()
        let cases: [(JSONValue, String)] = [
            (["workflow": "invrt"], "no workflow named 'invrt'; did you mean 'invert'?"),
            (["workflow": "invert", "params": ["widht": 64]], "workflow 'invert': unknown parameter 'widht'; did you mean 'width'?"),
            (["workflow": "invert", "params": ["width": "wide"]], "workflow 'invert': parameter 'width' must be an integer, not 'wide'"),
            (["workflow": "txt2img"], "workflow 'txt2img': parameter 'prompt' is required (What to draw.)"),
            (["workflow": "invert", "graph": ["1": ["class_type": "EmptyImage", "inputs": [:]]]],
             "invalid params for comfy.submit: send either 'workflow' (with 'params') or 'graph', not both"),
            (["graph": ["1": ["inputs": [:]]]], "invalid params for comfy.submit: node '1' of 'graph' needs a 'class_type' string and an 'inputs' object"),
            (["workflow": "invert", "class": "urgent"], "invalid params for comfy.submit: 'class' must be 'interactive' or 'batch', not 'urgent'"),
            (["workflow": "invert", "timeout": -1], "invalid params for comfy.submit: 'timeout' must be a number of seconds above 0"),
        ]
        for (params, expected) in cases {
            let (kind, message) = try await Self.message(bed, params)
            #expect(kind == "invalid_params" && message == expected, "\(params.jsonText): \(message)")
        }
        let list = try await bed.call(.jobsList, [:], as: JobsListResult.self)
        #expect(list.jobs.isEmpty)
        #expect(try await bed.errorKind(.jobsGet, ["id": "nope"]) == "job_not_found")
        try await bed.stop()
    }

    @Test func aGraphComfyUIRejectsFailsWithItsNodeErrorsReadable() async throws {
        let bed = try await ComfyJobTests.start()
        let graph: JSONValue = [
            "1": ["class_type": "EmptyImage", "inputs": ["width": 64, "height": 64, "batch_size": 1, "color": 0]],
            "2": ["class_type": "ImageInvert", "inputs": ["image": ["9", 0]]],
            "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "x"]],
        ]
        let job = try await ComfyJobTests.wait(bed, try await ComfyJobTests.submit(bed, ["graph": graph]).id)
        #expect(job.state == "failed" && job.error?.hasPrefix("ComfyUI refused the graph: ") == true, "\(job)")
        #expect(job.error?.contains("node 2 (ImageInvert)") == true, "\(job.error ?? "")")
        try await bed.stop()
    }

    @Test func anExecutionErrorFailsTheJobWithComfyUIsMessage() async throws {
        let bed = try await ComfyJobTests.start()
        bed.comfyui.configure { $0.failNextExecutions = (1, "RuntimeError", "mat1 and mat2 shapes cannot be multiplied") }
        let job = try await ComfyJobTests.wait(bed, try await ComfyJobTests.submit(bed, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 2]]).id)
        #expect(job.state == "failed" && job.error?.contains("mat1 and mat2 shapes cannot be multiplied") == true, "\(job)")
        #expect(job.error?.contains("KSampler") == true, "\(job.error ?? "")")
        try await bed.stop()
    }

    /// Starts a slow txt2img job (6 s at 15 ms a step, so it is still running on a loaded
    /// machine when the test acts) and returns once ComfyUI runs it.
    static func startSlowJob(_ bed: BackendTestBed) async throws -> String {
        bed.comfyui.configure { $0.stepDelay = .milliseconds(15) }
        let id = try await ComfyJobTests.submit(bed, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 400]]).id
        let running = await eventually { try await bed.call(.jobsGet, ["id": .string(id)], as: JobInfo.self).state == "running" }
        #expect(running)
        return id
    }

    @Test func aDroppedWebSocketMidJobIsReconnectedAndTheJobFinishes() async throws {
        let bed = try await ComfyJobTests.start()
        let id = try await Self.startSlowJob(bed)
        await bed.comfyui.dropWebSockets()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(1) }
        let job = try await ComfyJobTests.wait(bed, id)
        #expect(job.state == "succeeded" && job.attempts == 1 && job.outputs?.count == 1, "\(job)")
        try await bed.stop()
    }

    @Test func aComfyUIRestartMidJobResubmitsIt() async throws {
        let bed = try await ComfyJobTests.start()
        let id = try await Self.startSlowJob(bed)
        try await bed.comfyui.restart()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(1) }
        let job = try await ComfyJobTests.wait(bed, id)
        #expect(job.state == "succeeded" && job.attempts == 2 && job.outputs?.count == 1, "\(job)")
        try await bed.stop()
    }

    @Test func comfyUIDownKeepsJobsQueuedUntilItReturns() async throws {
        let bed = try await ComfyJobTests.start()
        await bed.comfyui.stop()
        let down = await eventually { try await bed.call(.status, nil, as: StatusResult.self).backends.comfyui.state == .down }
        #expect(down)
        let ids = try await (0..<3).asyncMap { index in
            try await ComfyJobTests.submit(bed, ["workflow": "invert", "params": ["prefix": .string("down\(index)")]]).id
        }
        try await Task.sleep(for: .milliseconds(300))
        let waiting = try await bed.call(.jobsList, [:], as: JobsListResult.self)
        #expect(waiting.jobs.allSatisfy { $0.state == "queued" }, "\(waiting.jobs.map(\.state))")
        try await bed.comfyui.start()
        for id in ids {
            let job = try await ComfyJobTests.wait(bed, id)
            #expect(job.state == "succeeded", "\(job)")
        }
        try await bed.stop()
    }

    @Test func cancelStopsAQueuedJobAndARunningOne() async throws {
        let bed = try await ComfyJobTests.start()
        let running = try await Self.startSlowJob(bed)
        let queued = try await ComfyJobTests.submit(bed, ["workflow": "invert"]).id
        let cancelledQueued = try await bed.call(.jobsCancel, ["id": .string(queued)], as: JobInfo.self)
        #expect(cancelledQueued.state == "cancelled")
        let cancelledRunning = try await bed.call(.jobsCancel, ["id": .string(running)], as: JobInfo.self)
        #expect(cancelledRunning.state == "cancelled", "\(cancelledRunning)")
        #expect(try await bed.errorKind(.jobsCancel, ["id": .string(running)]) == "invalid_params")
        // ComfyUI is free for the next job.
        let next = try await ComfyJobTests.wait(bed, try await ComfyJobTests.submit(bed, ["workflow": "invert"]).id)
        #expect(next.state == "succeeded")
        try await bed.stop()
    }

    @Test func aJobPastItsTimeoutIsInterruptedAndFailed() async throws {
        let bed = try await ComfyJobTests.start()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(15) }
        // Not startSlowJob: the job may pass its half second before a poll sees it running.
        let id = try await ComfyJobTests.submit(bed, ["workflow": "txt2img", "timeout": 0.5, "params": ["prompt": "a cat", "steps": 400]]).id
        let job = try await ComfyJobTests.wait(bed, id)
        #expect(job.state == "failed" && job.error?.contains("ran longer than its timeout") == true, "\(job)")
        try await bed.stop()
    }

    /// A job submitted as the daemon starts can run before /ws is connected, so its
    /// execution_start is never heard; the events of its nodes still show it runs (before, it
    /// stayed "submitted" until it ended; seen in 1 of 20 full runs of the kill -9 test).
    @Test func aJobWhoseStartWasNotHeardShowsAsRunningFromItsNodes() async throws {
        let bed = try await ComfyJobTests.start()
        // A step every 10 ms keeps the job heard from, so no quiet-time reconcile looks it up
        // while it runs: only its events can say it runs.
        bed.comfyui.configure { $0.stepDelay = .milliseconds(10); $0.loseNextExecutionStart = true }
        let id = try await ComfyJobTests.submit(bed, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 600]]).id
        let running = await eventually {
            try await bed.call(.jobsGet, ["id": .string(id)], as: JobInfo.self).state == "running"
        }
        #expect(running, "the job never showed as running")
        #expect(try await ComfyJobTests.wait(bed, id).state == "succeeded")
        try await bed.stop()
    }

    @Test func someoneElsesPromptInComfyUIIsWaitedFor() async throws {
        let bed = try await ComfyJobTests.start()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(15) }
        // Someone using ComfyUI's web UI queues a slow prompt.
        let foreign = try await withHTTPClient { http in
            try await ComfyUIClientForTests(baseURL: bed.comfyui.baseURL, http: http).submit(steps: 30)
        }
        let id = try await ComfyJobTests.submit(bed, ["workflow": "invert"]).id
        let job = try await ComfyJobTests.wait(bed, id)
        #expect(job.state == "succeeded")
        // Ours was submitted only after theirs had finished.
        let order = await bed.comfyui.historyIDs
        #expect(order.contains(foreign) && order.count == 2)
        #expect(await bed.comfyui.finishOrder == [foreign, job.promptId ?? ""])
        try await bed.stop()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// Someone else using ComfyUI directly (its web UI), with a client id of their own.
struct ComfyUIClientForTests {
    let client: ComfyUIClient

    init(baseURL: String, http: HTTPClient) {
        // A patient client: it stands for a person, and a loaded machine must not fail the test.
        client = ComfyUIClient(baseURL: baseURL, httpClient: http, quickTimeout: .seconds(30), logger: Logger(label: "someone"))
    }

    /// Queues the repository's txt2img graph with `steps`; returns its prompt id.
    func submit(steps: Int) async throws -> String {
        let path = BackendTestBed.workflowsDirectory + "/txt2img.json"
        guard case .object(var graph) = try JSONParser.parse(try Data(contentsOf: URL(fileURLWithPath: path))),
              case .object(var sampler)? = graph["5"], case .object(var inputs)? = sampler["inputs"] else {
            throw CocoaError(.fileReadCorruptFile)
        }
        inputs["steps"] = .number(Double(steps))
        sampler["inputs"] = .object(inputs)
        graph["5"] = .object(sampler)
        let id = UUID().uuidString.lowercased()
        _ = try await client.submit(graph: .object(graph), clientID: "someone-in-the-web-ui", promptID: id)
        return id
    }
}

/// ComfyUI jobs and Ollama requests on a card too small for both at once.
@Suite(.timeLimit(.minutes(3))) struct ComfyContentionTests {
    @Test func jobsAndOllamaRequestsShareACardTooSmallForBoth() async throws {
        // 10 GiB card, 9.5 GiB budget: the 6 GiB model and the 5 GiB checkpoint never fit together.
        let bed = try await ComfyJobTests.start(vram: 10 << 30)
        bed.comfyui.configure { $0.checkpointBytes = ["v1-5-pruned-emaonly.safetensors": 5 << 30] }
        try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<3 {
                group.addTask {
                    let id = try await ComfyJobTests.submit(bed, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 3,
                                                                                               "seed": .number(Double(index))]]).id
                    return try await ComfyJobTests.wait(bed, id).state
                }
                group.addTask {
                    let (_, result) = try await bed.stream(.generate, ["model": "llama3.1:8b", "prompt": "hi"])
                    return (try? result.get()) == nil ? "generate failed: \(result)" : "succeeded"
                }
            }
            for try await outcome in group { #expect(outcome == "succeeded") }
        }
        #expect(await bed.gpu.peakBytes <= 10 << 30)
        // gpuctld made room every time: Ollama never had to spill to the CPU, ComfyUI never ran out.
        #expect(await bed.ollama.partialLoads == 0)
        try await bed.stop()
    }
}
