import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A prompt from the page is a durable job: gpuctld killed with -9 while it waits, then
/// started again, still runs it once, for the page that sent it.
@Suite(.timeLimit(.minutes(3))) struct ComfyDoorRecoveryTests {
    @Test func aPagePromptQueuedBeforeAKill9RunsAfterTheRestartForItsPage() async throws {
        let comfyui = FakeComfyUI(gpu: VirtualGPU(totalBytes: 24 << 30))
        try await comfyui.start()
        comfyui.configure { $0.stepDelay = .milliseconds(20) }
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        var arguments = ProcessTests.daemonArguments(directory)
        let comfyFlag = try #require(arguments.firstIndex(of: "--comfyui-url"))
        arguments[comfyFlag + 1] = comfyui.baseURL
        arguments += ["--workflows", BackendTestBed.workflowsDirectory, "--output-dir", directory.file("out"),
                      "--comfyui-listen", "127.0.0.1:0"]
        func doorPort() async throws -> Int {
            let status = try await blocking { try RPCClient(socketPath: socket).call(.status, as: StatusResult.self) }
            return Int(status.daemon.comfyUIDoorURL?.split(separator: ":").last ?? "") ?? 0
        }

        let first = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        // A long job holds ComfyUI, so the page's prompt waits in gpuctld.
        let slow = try await blocking {
            try JSONDecoder().decode(JobInfo.self, from: RPCClient(socketPath: socket, timeout: .seconds(30)).callRaw(
                "comfy.submit", params: ["workflow": "txt2img", "params": ["prompt": "slow", "steps": 1000]])).id
        }
        let port = try await doorPort()
        let body = JSONValue.object(["prompt": try ComfyDoorBed.txt2img(prefix: "kept"), "client_id": "page-k"]).jsonText
        let reply = try await blocking {
            try RawHTTP.parse(RawHTTP.exchange(port: port, RawHTTP.request("POST", "/prompt", json: body), timeout: 30))
        }
        let id = try #require(reply.json["prompt_id"]?.stringValue, "\(reply.text)")
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        comfyui.configure { $0.stepDelay = .milliseconds(1) }

        let second = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        let page = PageSocket.open(port: try await doorPort(), clientID: "page-k")
        #expect(await page.first("execution_success", within: .seconds(60)) { $0["prompt_id"]?.stringValue == id } != nil,
                "\(page.messages.value)")
        let jobs = try await blocking { () -> [JobInfo] in
            let client = try RPCClient(socketPath: socket, timeout: .seconds(30))
            return try [slow, id].map { try JSONDecoder().decode(JobInfo.self, from: client.callRaw("jobs.wait", params: ["id": .string($0)])) }
        }
        #expect(jobs.map(\.state) == ["succeeded", "succeeded"], "\(jobs)")
        // Submitted once, for the page's session.
        #expect(await comfyui.finishOrder.filter { $0 == id }.count == 1)
        await page.close()
        second.signal(SIGTERM)
        #expect(await second.waitForExit(within: .seconds(10)) == 0)
        await comfyui.stop()
    }
}
