import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// generate, chat and embed through the real daemon, and what happens when things go wrong.
@Suite(.timeLimit(.minutes(3))) struct InferenceTests {
    @Test func generateStreamsThenAnswersWithOllamasAndGPUCtldsNumbers() async throws {
        let bed = try await BackendTestBed.start()
        let (chunks, result) = try await bed.stream(.generate, ["model": "small", "prompt": "hi"])
        let value = try result.get()
        #expect(chunks.count == 12)
        #expect(chunks.compactMap { $0["text"]?.stringValue }.joined() == value["response"]?.stringValue)
        #expect(value["doneReason"] == "stop" && value["ollama"]?["evalCount"] == 12)
        #expect(value["gpuctl"]?["loadMs"] != nil && value["gpuctl"]?["waitMs"] != nil)
        let list = try await bed.call(.modelsList, nil, as: ModelsListResult.self)
        #expect(list.models.first { $0.name == "llama3.2:3b" }?.inFlight == 0)
        try await bed.stop()
    }

    @Test func chatAndEmbed() async throws {
        let bed = try await BackendTestBed.start()
        let (chunks, result) = try await bed.stream(.chat, ["model": "llama3.2:3b", "options": ["num_predict": 2],
                                                           "messages": [["role": "user", "content": "hi"]]])
        let reply = try result.get()
        #expect(chunks.count == 2 && reply["response"] == "The quick")
        let embedded = try await bed.call(.embed, ["model": "embed", "input": ["one", "two"]], as: EmbedResult.self)
        #expect(embedded.dimensions == 768 && embedded.embeddings.count == 2)
        try await bed.stop()
    }

    @Test func badParamsAreRefusedBeforeAnythingLoads() async throws {
        let bed = try await BackendTestBed.start()
        for params: JSONValue in [
            ["model": "small", "prompt": "hi", "options": ["temperature": "hot"]],
            ["model": "small", "prompt": "hi", "options": "fast"],
            ["model": "small", "prompt": "hi", "options": ["stop": [1, 2]]],
            ["model": "small"],
            ["prompt": "hi"],
            ["model": "small", "prompt": "hi", "temprature": 1],
            ["model": "small", "prompt": "hi", "class": "urgent"],
            // Read only after admission once, so these loaded the model before being refused.
            ["model": "small", "prompt": "hi", "raw": "yes"],
            ["model": "small", "prompt": "hi", "system": 1],
            ["model": "small", "prompt": "hi", "suffix": ["x"]],
            ["model": "small", "prompt": "hi", "images": [1]],
            ["model": "small", "prompt": "hi", "images": ["aGk=", false]],
            ["model": "small", "prompt": "hi", "format": "yaml"],
            ["model": "small", "prompt": "hi", "format": 3],
            ["model": "small", "prompt": "hi", "think": "maybe"],
            ["model": "small", "prompt": "hi", "stream": "no"],
        ] {
            #expect(try await bed.errorKind(.generate, params) == "invalid_params", "\(params)")
        }
        for params: JSONValue in [
            ["model": "small", "messages": [["role": "user", "content": "x", "images": [1]]]],
            ["model": "small", "messages": [["role": "user", "content": "x"]], "tools": "all"],
            ["model": "small", "messages": [["role": "user", "content": "x"]], "format": true],
            ["model": "small", "messages": [["role": "user", "content": "x"]], "think": 1],
        ] {
            #expect(try await bed.errorKind(.chat, params) == "invalid_params", "\(params)")
        }
        for params: JSONValue in [
            ["model": "embed", "input": "x", "truncate": "yes"],
            ["model": "embed", "input": "x", "dimensions": 1.5],
            ["model": "embed", "input": "x", "dimensions": 0],
            ["model": "embed", "input": "x", "dimensions": "64"],
        ] {
            #expect(try await bed.errorKind(.embed, params) == "invalid_params", "\(params)")
        }
        #expect(try await bed.errorKind(.chat, ["model": "small", "messages": [["role": "robot", "content": "x"]]]) == "invalid_params")
        #expect(try await bed.errorKind(.embed, ["model": "embed", "input": 3]) == "invalid_params")
        #expect(try await bed.errorKind(.modelsLoad, ["model": "small", "keep_alive": "300"]) == "invalid_params")
        #expect(await bed.ollama.loadCounts.isEmpty)
        try await bed.stop()
    }

    @Test func ollamaDownFailsFastAndTheDaemonRecoversByItself() async throws {
        let bed = try await BackendTestBed.start()
        await bed.ollama.stop()
        #expect(try await bed.errorKind(.generate, ["model": "small", "prompt": "hi"]) == "backend_unavailable")
        #expect(await eventually {
            try await bed.call(.status, nil, as: StatusResult.self).backends.ollama.state == .down
        })
        try await bed.ollama.start()
        #expect(await eventually { try await bed.errorKind(.generate, ["model": "small", "prompt": "hi"]) == nil })
        try await bed.stop()
    }

    @Test func ollamaDyingMidStreamEndsWithAnErrorNotificationAndAnError() async throws {
        let bed = try await BackendTestBed.start()
        bed.ollama.configure { $0.dropNextStreamAfter = 3 }
        let (chunks, result) = try await bed.stream(.generate, ["model": "small", "prompt": "hi"])
        #expect(chunks.count == 4)
        #expect(chunks.last?["error"]?["kind"] == "backend_unavailable")
        guard case .failure(let error) = result else { Issue.record("expected an error"); return }
        #expect(error.data?.kind == "backend_unavailable")
        bed.ollama.configure { $0.errorNextStreamAfter = (2, "CUDA error: out of memory") }
        let (_, second) = try await bed.stream(.generate, ["model": "small", "prompt": "hi"])
        guard case .failure(let oom) = second else { Issue.record("expected an error"); return }
        #expect(oom.data?.kind == "backend_error" && oom.message.contains("CUDA error: out of memory"))
        try await bed.stop()
    }

    @Test func aClientThatHangsUpMidStreamCancelsUpstream() async throws {
        let bed = try await BackendTestBed.start()
        bed.ollama.configure { $0.tokenDelay = .milliseconds(30); $0.tokens = 1000 }
        let path = bed.daemon.socketPath
        try await blocking {
            let client = try RPCClient(socketPath: path)
            try client.send(RPCWire.request(id: 1, method: "generate", params: ["model": "small", "prompt": "hi"]))
            _ = try client.readLine()
            _ = try client.readLine()
            // Dropping the client closes the connection mid-stream.
        }
        #expect(await eventually { await bed.ollama.inFlight["llama3.2:3b"] == 0 })
        #expect(await eventually {
            try await bed.call(.modelsList, nil, as: ModelsListResult.self).models.first { $0.name == "llama3.2:3b" }?.inFlight == 0
        })
        try await bed.stop()
    }

    @Test func cancelStopsACallOnTheSameConnection() async throws {
        let bed = try await BackendTestBed.start()
        bed.ollama.configure { $0.tokenDelay = .milliseconds(30); $0.tokens = 1000 }
        let path = bed.daemon.socketPath
        let kind = try await blocking { () -> String? in
            let client = try RPCClient(socketPath: path)
            try client.send(RPCWire.request(id: "g", method: "generate", params: ["model": "small", "prompt": "hi"]))
            _ = try client.readLine()
            try client.send(RPCWire.request(id: "c", method: "cancel", params: ["id": "g"]))
            while true {
                let line = try JSONParser.parse(try client.readLine())
                if line["id"] == "g" { return line["error"]?["data"]?["kind"]?.stringValue }
            }
        }
        #expect(kind == "cancelled")
        #expect(await eventually { await bed.ollama.inFlight["llama3.2:3b"] == 0 })
        try await bed.stop()
    }

    @Test func aHundredRequestsForThreeModelsThatCannotAllFit() async throws {
        let bed = try await BackendTestBed.start()
        let models = ["llama3.1:8b", "qwen2.5:14b", "llama3.2:3b"]
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<100 {
                group.addTask {
                    try await bed.errorKind(.generate, ["model": .string(models[index % 3]), "prompt": "hi", "class": index % 2 == 0 ? "interactive" : "batch"])
                }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(results.count == 100 && results.allSatisfy { $0 == nil }, "\(results.compactMap { $0 })")
        #expect(await bed.gpu.peakBytes <= bed.gpu.totalBytes)
        let loads = await bed.ollama.loadCounts
        #expect(loads.values.allSatisfy { $0 <= 10 }, "\(loads)")
        try await bed.stop()
    }
}
