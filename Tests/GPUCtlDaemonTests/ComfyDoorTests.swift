import Foundation
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// ComfyUI's page and API through the door (`--comfyui-listen`), with a browser's requests.
@Suite(.timeLimit(.minutes(3))) struct ComfyDoorTests {
    /// The page, its prompt waiting behind an Ollama request that holds the card, then run:
    /// the page sees it pending in /queue and in `status`, then its own execution messages over
    /// /ws under its clientId, then its image through /view; gpuctld ran it as a job.
    @Test func aPagePromptWaitsForTheCardThenRunsAndItsImageComesThroughTheDoor() async throws {
        // 8 GiB: the 6 GiB model and the 5 GiB checkpoint cannot share it.
        let door = try await ComfyDoorBed.start(vram: 8 << 30)
        let page = try await door.page("GET", "/")
        #expect(page.status == 200 && page.text == FakeComfyUI.pageHTML && page.headers["content-type"] == "text/html")
        let socket = PageSocket.open(port: door.port, clientID: "page-1")
        let hello = await socket.first("status")
        #expect(hello?["sid"]?.stringValue == "page-1" && hello?["status"]?["exec_info"]?["queue_remaining"] == 0, "\(String(describing: hello))")

        door.bed.ollama.configure { $0.tokenDelay = .milliseconds(50); $0.tokens = 80 }
        let generation = Task { try await door.bed.stream(.generate, ["model": "llama3.1:8b", "prompt": "hold the card"]) }
        #expect(await eventually { (try? await door.bed.call(.modelsList, nil, as: ModelsListResult.self))?.models
            .contains { $0.name == "llama3.1:8b" && $0.inFlight == 1 } == true })

        let extra: JSONValue = ["extra_pnginfo": ["workflow": ["nodes": []]]]
        let reply = try await door.post(graph: try ComfyDoorBed.txt2img(), clientID: "page-1", extra: extra)
        let promptID = try #require(reply.json["prompt_id"]?.stringValue, "\(reply.status) \(reply.text)")
        #expect(reply.status == 200 && reply.json["number"] == 0 && reply.json["node_errors"] == [:], "\(reply.text)")
        // It waits in gpuctld: the page's queue shows it pending, with the page's client id.
        let queue = try await door.page("GET", "/queue").json
        let pending = queue["queue_pending"]?.arrayValue ?? []
        let entry = try #require(pending.first { $0.arrayValue?[1].stringValue == promptID }?.arrayValue, "\(queue)")
        #expect(entry[3]["client_id"] == "page-1" && entry[3]["extra_pnginfo"] != nil && entry[4] == ["7"], "\(entry)")
        #expect(await door.bed.comfyui.historyIDs.isEmpty)
        let counted = await socket.first("status") { $0["status"]?["exec_info"]?["queue_remaining"] == 1 }
        #expect(counted != nil, "\(socket.messages.value)")
        #expect(try await door.page("GET", "/prompt").json["exec_info"]?["queue_remaining"] == 1)
        let job = try await door.bed.call(.jobsGet, ["id": .string(promptID)], as: JobInfo.self)
        #expect(job.state == "queued" && job.promptId == promptID && job.jobClass == "interactive", "\(job)")

        // Once the card is free it runs, and the page follows it under its own id.
        _ = try await generation.value
        let done = try await door.bed.call(.jobsWait, ["id": .string(promptID)], as: JobInfo.self)
        #expect(done.state == "succeeded", "\(done)")
        let executed = await socket.first("executed") { $0["prompt_id"]?.stringValue == promptID }
        let image = try #require(executed?["output"]?["images"]?.arrayValue?.first, "\(socket.messages.value)")
        let types = socket.types(of: promptID)
        #expect(types.first == "execution_start" && types.contains("progress") && types.last != nil, "\(types)")
        #expect(await socket.first("execution_success") { $0["prompt_id"]?.stringValue == promptID } != nil)
        let name = image["filename"]?.stringValue ?? ""
        let view = try await door.page("GET", "/view?filename=\(name)&subfolder=&type=output")
        #expect(view.status == 200 && view.body == Data(FakeComfyUI.png))
        let history = try await door.page("GET", "/history/\(promptID)").json
        #expect(history[promptID]?["prompt"]?.arrayValue?[3]["extra_pnginfo"] != nil, "\(history)")
        #expect(done.outputs?.first?.filename == name)
        await socket.close()
        try await door.stop()
    }

    /// Delete from the page's queue and interrupt from the page cancel the gpuctld jobs.
    @Test func deletingOrInterruptingFromThePageCancelsTheJob() async throws {
        let door = try await ComfyDoorBed.start(vram: 8 << 30)
        let socket = PageSocket.open(port: door.port, clientID: "page-2")
        _ = await socket.first("status")
        door.bed.ollama.configure { $0.tokenDelay = .milliseconds(50); $0.tokens = 60 }
        let generation = Task { try await door.bed.stream(.generate, ["model": "llama3.1:8b", "prompt": "hold"]) }
        #expect(await eventually { (try? await door.bed.call(.modelsList, nil, as: ModelsListResult.self))?.models
            .contains { $0.inFlight == 1 } == true })
        let first = try await door.post(graph: try ComfyDoorBed.txt2img(prefix: "a"), clientID: "page-2").json["prompt_id"]?.stringValue ?? ""
        let second = try await door.post(graph: try ComfyDoorBed.txt2img(prefix: "b"), clientID: "page-2").json["prompt_id"]?.stringValue ?? ""
        let deleted = try await door.page("POST", "/api/queue", json: #"{"delete": ["\#(first)"]}"#)
        #expect(deleted.status == 200 && deleted.body.isEmpty)
        let cancelled = try await door.bed.call(.jobsGet, ["id": .string(first)], as: JobInfo.self)
        #expect(cancelled.state == "cancelled", "\(cancelled)")
        let queue = try await door.page("GET", "/queue").json["queue_pending"]?.arrayValue ?? []
        #expect(queue.compactMap { $0.arrayValue?[1].stringValue } == [second], "\(queue)")

        // The second runs once the card is free; an interrupt from the page (no prompt_id, as
        // the page's Cancel button sends it) cancels it in gpuctld and in ComfyUI.
        door.bed.comfyui.configure { $0.holdSamplers = true }
        _ = try await generation.value
        #expect(await eventually { (try? await door.bed.call(.jobsGet, ["id": .string(second)], as: JobInfo.self))?.state == "running" })
        let interrupted = try await door.page("POST", "/interrupt", json: "{}")
        #expect(interrupted.status == 200)
        let ended = try await door.bed.call(.jobsWait, ["id": .string(second)], as: JobInfo.self)
        #expect(ended.state == "cancelled", "\(ended)")
        #expect(await socket.first("execution_interrupted") { $0["prompt_id"]?.stringValue == second } != nil)
        await socket.close()
        try await door.stop()
    }

    /// A graph ComfyUI rejects is accepted by the door (it cannot know yet), then reaches the
    /// page as an error when gpuctld submits it; what ComfyUI would refuse before queueing, the
    /// door refuses in ComfyUI's shape; another site's page is refused.
    @Test func refusedGraphsAndBadRequestsGetComfyUIsAnswers() async throws {
        let door = try await ComfyDoorBed.start()
        let socket = PageSocket.open(port: door.port, clientID: "page-3")
        _ = await socket.first("status")
        let broken: JSONValue = ["1": ["class_type": "SaveImage", "inputs": ["filename_prefix": "x"]]]
        let reply = try await door.post(graph: broken, clientID: "page-3")
        let id = try #require(reply.json["prompt_id"]?.stringValue, "\(reply.text)")
        let failed = try await door.bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(failed.state == "failed" && failed.error?.contains("images") == true, "\(failed)")
        let error = await socket.first("execution_error") { $0["prompt_id"]?.stringValue == id }
        #expect(error?["exception_message"]?.stringValue?.contains("SaveImage") == true, "\(socket.messages.value)")

        let none = try await door.page("POST", "/prompt", json: #"{"client_id": "page-3"}"#)
        #expect(none.status == 400 && none.json["error"]?["type"] == "no_prompt" && none.json["node_errors"] == [:], "\(none.text)")
        let noClass = try await door.page("POST", "/prompt", json: #"{"prompt": {"1": {"inputs": {}}}}"#)
        #expect(noClass.status == 400 && noClass.json["error"]?["details"] == "Node ID '#1'", "\(noClass.text)")
        let badID = try await door.page("POST", "/prompt", json: #"{"prompt": \#(broken.jsonText), "prompt_id": "../../x"}"#)
        #expect(badID.status == 400 && badID.json["error"]?["type"] == "invalid_prompt_id", "\(badID.text)")
        let malformed = try await door.page("POST", "/prompt", json: "{not json")
        #expect(malformed.status == 400 && malformed.json["error"]?["type"] == "invalid_prompt")
        let elsewhere = try await door.page("POST", "/prompt", json: #"{"prompt": \#(broken.jsonText)}"#, origin: "http://evil.example")
        #expect(elsewhere.status == 403)
        // Passed through: ComfyUI's own routes, the /api prefix, and what it refuses itself.
        #expect(try await door.page("GET", "/api/system_stats").json["system"]?["comfyui_version"] != nil)
        #expect(try await door.page("GET", "/object_info/SaveImage").json["SaveImage"] != nil)
        // A method HTTP's parser does not know: 400, and the connection is closed (not held).
        let unknown = try await door.page("BREW", "/coffee")
        #expect(unknown.status == 400 && unknown.headers["connection"] == "close", "\(unknown.status)")
        let patch = try await door.page("PATCH", "/prompt", json: "{}")
        #expect(patch.status == 404 || patch.status == 405, "ComfyUI's own answer: \(patch.status)")
        let list = try await door.bed.call(.jobsList, [:], as: JobsListResult.self)
        #expect(list.jobs.map(\.id) == [id], "only the accepted prompt became a job")
        await socket.close()
        try await door.stop()
    }

    /// ComfyUI restarts: the page's /ws is closed as ComfyUI's would be, the page reconnects
    /// with its id, and its next prompt's messages reach it.
    @Test func thePageReconnectsAfterComfyUIRestarts() async throws {
        let door = try await ComfyDoorBed.start()
        let before = PageSocket.open(port: door.port, clientID: "page-4")
        _ = await before.first("status")
        #expect(await eventually { door.bed.comfyui.connectedClients.contains("page-4") })
        try await door.bed.comfyui.restart()
        #expect(await eventually { before.closed.value }, "the page's socket closes with ComfyUI's")
        let after = PageSocket.open(port: door.port, clientID: "page-4")
        #expect(await after.first("status")?["sid"] == "page-4")
        let id = try await door.post(graph: try ComfyDoorBed.txt2img(), clientID: "page-4").json["prompt_id"]?.stringValue ?? ""
        #expect(await after.first("execution_success") { $0["prompt_id"]?.stringValue == id } != nil, "\(after.messages.value)")
        #expect(try await door.bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self).state == "succeeded")
        // A page that asks for no id gets ComfyUI's, and prompts for that id reach it.
        let anonymous = PageSocket.open(port: door.port, clientID: nil)
        let sid = try #require(await anonymous.first("status")?["sid"]?.stringValue)
        let other = try await door.post(graph: try ComfyDoorBed.txt2img(prefix: "anon"), clientID: sid).json["prompt_id"]?.stringValue ?? ""
        #expect(await anonymous.first("execution_success") { $0["prompt_id"]?.stringValue == other } != nil)
        await after.close()
        await anonymous.close()
        try await door.stop()
    }
}

/// A page that stops reading its /ws while its prompt sends previews: the door holds back only
/// what the sockets hold, drops that page after its limit (10 s), and the prompt, the other
/// pages and ComfyUI go on.
@Suite(.timeLimit(.minutes(3))) struct ComfyDoorSlowPageTests {
    @Test func aPageThatNeverReadsIsDroppedAndTheRestGoesOn() async throws {
        let door = try await ComfyDoorBed.start()
        // 200 previews of 512 KiB: 100 MiB, far more than the sockets on the way can hold.
        door.bed.comfyui.configure { $0.previewBytes = 512 << 10; $0.stepDelay = .milliseconds(1) }
        let port = door.port
        let stalled = try await blocking { () -> Int32 in
            let socket = try RawHTTP.connect(port: port, timeout: 60, receiveBuffer: 4096)
            let upgrade = "GET /ws?clientId=slow HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            _ = Array(upgrade.utf8).withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return socket
        }
        #expect(await eventually { door.bed.comfyui.connectedClients.contains("slow") })
        let other = PageSocket.open(port: door.port, clientID: "reader")
        _ = await other.first("status")
        let id = try await door.post(graph: try ComfyDoorBed.txt2img(steps: 200, prefix: "slow"), clientID: "slow").json["prompt_id"]?.stringValue ?? ""
        let job = try await door.bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        #expect(await eventually { !door.bed.comfyui.connectedClients.contains("slow") }, "the slow page's ComfyUI side is closed")
        let (drained, ended) = try await blocking { () -> (Int, Bool) in
            var total = 0
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(stalled, &buffer, buffer.count, 0)
                if n == 0 { close(stalled); return (total, true) }
                if n < 0 { close(stalled); return (total, errno == ECONNRESET) }
                total += n
            }
        }
        #expect(ended && drained < 64 << 20, "\(drained) bytes, closed: \(ended)")
        // The reading page was served all along and still is.
        let next = try await door.post(graph: try ComfyDoorBed.txt2img(steps: 2, prefix: "after"), clientID: "reader").json["prompt_id"]?.stringValue ?? ""
        #expect(await other.first("execution_success") { $0["prompt_id"]?.stringValue == next } != nil)
        #expect(other.messages.value.contains { $0["type"] == "status" && $0["data"]?["status"]?["exec_info"]?["queue_remaining"] == 1 })
        await other.close()
        try await door.stop()
    }
}

/// The door's pure parts: what a prompt body is, what the page's queue shows, whose page a
/// request comes from.
@Suite struct ComfyDoorLogicTests {
    @Test func promptBodies() throws {
        let graph: JSONValue = ["1": ["class_type": "EmptyImage", "inputs": [:]], "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0]]]]
        let id = "0d5c1e8e-1b2c-4d3e-8f90-123456789abc"
        let body = JSONValue.object(["prompt": graph, "client_id": "p", "prompt_id": .string(id), "extra_data": ["x": 1]]).jsonText
        #expect(try ComfyPrompt.parse(Array(body.utf8)).get() == ComfyPrompt(graph: graph, clientID: "p", promptID: id, extraData: ["x": 1]))
        let chosen = try? ComfyPrompt.parse(Array(#"{"prompt": {"1": {"class_type": "A", "inputs": {}}}, "prompt_id": null, "client_id": ""}"#.utf8)).get()
        #expect(chosen?.promptID == nil && chosen?.clientID == nil)
        for (text, type) in [("[]", "invalid_prompt"), ("{}", "no_prompt"), (#"{"prompt": 3}"#, "invalid_prompt"),
                             (#"{"prompt": {"1": {"class_type": "A", "inputs": {}}}, "prompt_id": "ABC"}"#, "invalid_prompt_id"),
                             (#"{"prompt": {"1": {"class_type": "A", "inputs": {}}}, "prompt_id": "0D5C1E8E-1B2C-4D3E-8F90-123456789ABC"}"#, "invalid_prompt_id")] {
            guard case .failure(let refusal) = ComfyPrompt.parse(Array(text.utf8)) else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(refusal.type == type && refusal.body["node_errors"] == [:], "\(text)")
        }
        #expect(ComfyPrompt.outputNodes(of: graph) == ["2"])
    }

    @Test func theQueueListsWaitingJobsAfterComfyUIs() {
        let comfy: JSONValue = ["queue_running": [[4, "r", [:], ["client_id": "a"], ["9"]]], "queue_pending": [[7, "p", [:], [:], []]]]
        let waiting = [PageQueueView.Waiting(id: "w1", graph: ["1": ["class_type": "SaveImage", "inputs": [:]]], clientID: "page", extraData: ["k": 1]),
                       PageQueueView.Waiting(id: "p", graph: [:], clientID: nil, extraData: nil)]
        let merged = PageQueueView.merged(comfy, waiting: waiting)
        #expect(merged["queue_running"] == comfy["queue_running"])
        #expect(merged["queue_pending"] == [[7, "p", [:], [:], []], [8, "w1", ["1": ["class_type": "SaveImage", "inputs": [:]]], ["k": 1, "client_id": "page"], ["1"]]],
                "a job ComfyUI already lists is not shown twice; the others follow ComfyUI's numbers")
        #expect(PageQueueView.merged(nil, waiting: [waiting[0]])["queue_pending"]?.arrayValue?.first?.arrayValue?.first == 0)
        #expect(PageQueueView.promptInfo(["exec_info": ["queue_remaining": 2]], waiting: 3) == ["exec_info": ["queue_remaining": 5]])
        #expect(PageQueueView.statusMessage(remaining: 4, sid: "s") == #"{"data":{"sid":"s","status":{"exec_info":{"queue_remaining":4}}},"type":"status"}"#)
    }

    @Test func routesClientIDsAndOrigins() {
        #expect(ComfyDoorRoute(method: "POST", path: "/api/prompt") == .submit)
        #expect(ComfyDoorRoute(method: "GET", path: "/prompt") == .promptInfo)
        #expect(ComfyDoorRoute(method: "POST", path: "/queue") == .editQueue)
        #expect(ComfyDoorRoute(method: "GET", path: "/api/queue") == .queue)
        #expect(ComfyDoorRoute(method: "POST", path: "/api/interrupt") == .interrupt)
        #expect(ComfyDoorRoute(method: "GET", path: "/history/x") == .passthrough)
        #expect(ComfyDoorRoute.clientID(inURI: "/ws?clientId=a%20b&x=1") == "a b")
        #expect(ComfyDoorRoute.clientID(inURI: "/ws") == nil && ComfyDoorRoute.clientID(inURI: "/ws?clientId=") == nil)
        #expect(!ComfyDoorRoute.isCrossOrigin(origin: "http://127.0.0.1:8189", host: "127.0.0.1:8189"))
        #expect(!ComfyDoorRoute.isCrossOrigin(origin: "ws://127.0.0.1", host: "127.0.0.1:8189"), "no port: hosts compared")
        #expect(!ComfyDoorRoute.isCrossOrigin(origin: nil, host: "127.0.0.1:8189"))
        #expect(!ComfyDoorRoute.isCrossOrigin(origin: "http://[::1]:8189", host: "[::1]:8189"))
        #expect(ComfyDoorRoute.isCrossOrigin(origin: "http://127.0.0.1:9999", host: "127.0.0.1:8189"))
        #expect(ComfyDoorRoute.isCrossOrigin(origin: "https://evil.example", host: "127.0.0.1:8189"))
        #expect(ComfyDoorRoute.isCrossOrigin(origin: "null", host: "127.0.0.1:8189"))
    }

    @Test func theDoorIsLoopbackOnlyUnlessAllowed() throws {
        do {
            _ = try DaemonConfiguration.resolve(flags: DaemonFlags(), environment: ["GPUCTL_COMFYUI_LISTEN": "0.0.0.0:8189"])
            Issue.record("a remote address was accepted")
        } catch {
            #expect(error.message.contains("not a loopback address") && error.message.contains("--comfyui-allow-remote"), "\(error)")
        }
        let allowed = try DaemonConfiguration.resolve(
            flags: DaemonFlags(arguments: ["--comfyui-listen", "0.0.0.0:8189", "--comfyui-allow-remote"]), environment: [:])
        #expect(allowed.comfyUIListen == ListenAddress(host: "0.0.0.0", port: 8189))
        #expect(try DaemonConfiguration.resolve(flags: DaemonFlags(), environment: [:]).comfyUIListen == nil, "off by default")
    }
}
