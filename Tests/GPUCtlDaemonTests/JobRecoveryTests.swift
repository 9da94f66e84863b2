import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The daemon killed with -9 while jobs are queued and one runs: after a restart every job
/// ends exactly once, with one output folder each.
@Suite(.timeLimit(.minutes(3))) struct JobRecoveryTests {
    @Test func kill9With200QueuedAndOneRunningLosesAndDuplicatesNothing() async throws {
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await comfyui.start()
        // 1000 steps of 20 ms: the first job is still running however long the 200 submissions
        // take on a loaded machine; after the kill the steps speed up so the test ends quickly.
        comfyui.configure { $0.stepDelay = .milliseconds(20) }
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        let outputs = directory.file("out")
        var arguments = ProcessTests.daemonArguments(directory)
        let comfyFlag = try #require(arguments.firstIndex(of: "--comfyui-url"))
        arguments[comfyFlag + 1] = comfyui.baseURL
        // What the daemon did, to show if the first job never runs.
        if let level = arguments.firstIndex(of: "--log-level") { arguments[level + 1] = "info" }
        arguments += ["--workflows", BackendTestBed.workflowsDirectory, "--output-dir", outputs]

        let first = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        let ids = try await blocking { () -> [String] in
            let client = try RPCClient(socketPath: socket, timeout: .seconds(30))
            func submit(_ params: JSONValue) throws -> String {
                try JSONDecoder().decode(JobInfo.self, from: client.callRaw("comfy.submit", params: params)).id
            }
            var ids = [try submit(["workflow": "txt2img", "params": ["prompt": "slow", "steps": 1000]])]
            for index in 0..<200 {
                ids.append(try submit(["workflow": "invert", "class": "batch", "params": ["prefix": .string("job\(index % 7)")]]))
            }
            return ids
        }
        // A deadline, not a timing: under a sanitizer the 201 submissions alone can take seconds.
        let running = await eventually(within: .seconds(90)) {
            try await blocking {
                try JSONDecoder().decode(JobInfo.self, from: RPCClient(socketPath: socket).callRaw("jobs.get", params: ["id": .string(ids[0])])).state == "running"
            }
        }
        if !running {
            let job = try? await blocking { try RPCClient(socketPath: socket).callRaw("jobs.get", params: ["id": .string(ids[0])]) }
            let status = try? await blocking { try RPCClient(socketPath: socket).callRaw("status", params: nil) }
            Issue.record("""
                the first job never ran: \(String(decoding: job ?? Data(), as: UTF8.self))
                status: \(String(decoding: status ?? Data(), as: UTF8.self))
                ComfyUI saw prompts \(await comfyui.historyIDs.count) finished, /ws clients \(comfyui.connectedClients)
                """)
        }
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        if !running { Issue.record("the first daemon's log:\n\(String(await first.streams().stderr.suffix(6000)))") }
        comfyui.configure { $0.stepDelay = .milliseconds(1) }

        let second = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        let allEnded = await eventually(within: .seconds(120)) {
            try await blocking {
                let counts = try RPCClient(socketPath: socket).call(.status, as: StatusResult.self).jobs
                return counts.succeeded + counts.failed + counts.cancelled == 201
            }
        }
        #expect(allEnded)
        second.signal(SIGTERM)
        #expect(await second.waitForExit(within: .seconds(10)) == 0)

        let store = try JobStore(directory: directory.file("state"))
        for id in ids {
            let job = try #require(try store.job(id: id))
            #expect(job.state == .succeeded, "\(id): \(job.state) \(job.error ?? "")")
            let endings = try store.events(jobID: id).filter { $0.state?.isFinal == true }
            #expect(endings.count == 1, "\(id) ended \(endings.count) times")
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(outputs)/\(id)")
            #expect(files.count == 1, "\(id): \(files)")
        }
        try store.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: outputs).count == 201)
        // ComfyUI ran each prompt once: the running one was followed again, not resubmitted.
        let finished = await comfyui.finishOrder
        #expect(Set(finished).count == finished.count)
        await comfyui.stop()
        directory.remove()
    }
}
