import Foundation
import GPUCtlDaemon
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
