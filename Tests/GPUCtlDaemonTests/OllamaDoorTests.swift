import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The Ollama-compatible door at the byte level: framing, status codes, Ollama's own error
/// texts, what passes through, and what goes through the Scheduler.
@Suite(.timeLimit(.minutes(3))) struct OllamaDoorTests {
    @Test func aNonStreamedGenerateIsOneObjectWithContentLengthAndNoNewline() async throws {
        let bed = try await DoorBed.start()
        let request = #"{"model":"small","prompt":"hi","stream":false}"#
        let door = try await bed.raw("POST", "/api/generate", json: request)
        let direct = try await bed.rawDirect("POST", "/api/generate", json: request)
        #expect(door.status == 200 && !door.chunked && door.headers["content-length"] == "\(door.body.count)")
        #expect(door.headers["content-type"] == direct.headers["content-type"])
        #expect(door.body.last != UInt8(ascii: "\n"))
        let value = door.json
        // "small" is a catalog alias Ollama does not know: it goes on as the model it names.
        #expect(value["done"] == true && value["response"]?.stringValue?.isEmpty == false && value["model"] == "llama3.2:3b")
        try await bed.stop()
    }

    @Test func aStreamedChatIsChunkedNDJSONEndingWithDone() async throws {
        let bed = try await DoorBed.start()
        let answer = try await bed.raw("POST", "/api/chat",
                                       json: #"{"model":"small","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(answer.status == 200 && answer.chunked && answer.headers["content-type"] == "application/x-ndjson")
        #expect(answer.text.hasSuffix("\n"))
        let lines = answer.text.split(separator: "\n").map { try? JSONParser.parse(Array($0.utf8)) }
        #expect(lines.count == 13 && lines.allSatisfy { $0 != nil })
        #expect(lines.last??["done"] == true && lines.first??["message"]?["role"] == "assistant")
        try await bed.stop()
    }

    @Test func whatNeedsNoCardPassesThroughUnchanged() async throws {
        let bed = try await DoorBed.start()
        let root = try await bed.raw("GET", "/")
        #expect(root.status == 200 && root.text == "Ollama is running")
        let head = try await bed.raw("HEAD", "/")
        #expect(head.status == 200 && head.body.isEmpty)
        let version = try await bed.raw("GET", "/api/version")
        #expect(version.status == 200 && version.json["version"] == "0.33.0-rc2")
        let tags = try await bed.raw("GET", "/api/tags")
        #expect(tags.status == 200 && tags.json["models"]?.arrayValue?.count == 4)
        let unknown = try await bed.raw("GET", "/api/nosuch")
        let unknownDirect = try await bed.rawDirect("GET", "/api/nosuch")
        #expect(unknown.status == 404 && unknown.text == "404 page not found", "\(unknown.headers) \(unknownDirect.headers) \(unknownDirect.text)")
        let wrongMethod = try await bed.raw("GET", "/api/chat")
        #expect(wrongMethod.status == 405)
        let missing = try await bed.raw("POST", "/api/generate", json: "")
        #expect(missing.status == 400 && missing.text == #"{"error":"missing request body"}"#)
        #expect(await bed.bed.ollama.loadCounts.isEmpty)
        try await bed.stop()
    }

    @Test func anUnknownModelGetsOllamasOwn404ForEachEndpoint() async throws {
        let bed = try await DoorBed.start()
        let generate = try await bed.raw("POST", "/api/generate", json: #"{"model":"nosuch","prompt":"hi"}"#)
        #expect(generate.status == 404 && generate.text == #"{"error":"model 'nosuch' not found"}"#)
        let embed = try await bed.raw("POST", "/api/embed", json: #"{"model":"nosuch","input":"hi"}"#)
        #expect(embed.status == 404 && embed.text == #"{"error":"model \"nosuch\" not found, try pulling it first"}"#)
        try await bed.stop()
    }

    @Test func aModelThatCanNeverFitIs503WithTheNumbersAtOnce() async throws {
        let bed = try await DoorBed.start(vram: 8 << 30)
        let answer = try await bed.raw("POST", "/api/generate", json: #"{"model":"qwen2.5:14b","prompt":"hi"}"#)
        #expect(answer.status == 503)
        let message = answer.json["error"]?.stringValue ?? ""
        #expect(message.contains("can never fit") && message.contains("10.4 GiB"), "\(message)")
        #expect(await bed.bed.ollama.loadCounts.isEmpty)
        try await bed.stop()
    }

    @Test func anEmptyPromptLoadsAndKeepAliveZeroUnloadsThroughTheScheduler() async throws {
        let bed = try await DoorBed.start()
        let load = try await bed.raw("POST", "/api/generate", json: #"{"model":"llama3.1:8b"}"#)
        #expect(load.status == 200 && load.json["done_reason"] == "load" && !load.chunked)
        var list = try await bed.bed.call(.modelsList, nil, as: ModelsListResult.self)
        #expect(list.models.first { $0.name == "llama3.1:8b" }?.state == "loaded")
        let unload = try await bed.raw("POST", "/api/chat", json: #"{"model":"llama3.1:8b","messages":[],"keep_alive":0}"#)
        #expect(unload.status == 200 && unload.json["done_reason"] == "unload")
        list = try await bed.bed.call(.modelsList, nil, as: ModelsListResult.self)
        #expect(list.models.first { $0.name == "llama3.1:8b" }?.state != "loaded")
        #expect(await bed.bed.ollama.residentNames.isEmpty)
        try await bed.stop()
    }

    @Test func theCatalogsRunnerOptionsWinAndForeverIsCappedOnAnUnpinnedModel() async throws {
        let bed = try await DoorBed.start()
        let answer = try await bed.raw("POST", "/api/generate", json: """
            {"model":"llama3.1:8b","prompt":"hi","stream":false,"keep_alive":-1,"options":{"num_ctx":2048,"num_predict":2}}
            """)
        #expect(answer.status == 200 && answer.json["eval_count"] == 2)
        let ps = try await bed.rawDirect("GET", "/api/ps").json
        let entry = ps["models"]?.arrayValue?.first { $0["name"] == "llama3.1:8b" }
        #expect(entry?["context_length"] == 8192)
        // The catalog's 30m, not forever (a "forever" would show a date centuries ahead).
        let expires = entry?["expires_at"]?.stringValue ?? ""
        #expect(expires.hasPrefix("20") && !expires.hasPrefix("22"), "\(expires)")
        // A model whose entry sets no runner options runs at Ollama's default size whatever a
        // request asks: another num_ctx would reload it behind the ledger.
        _ = try await bed.raw("POST", "/api/generate", json: """
            {"model":"llama3.2:3b","prompt":"hi","stream":false,"options":{"num_ctx":2048,"num_gpu":1,"temperature":0.1}}
            """)
        let after = try await bed.rawDirect("GET", "/api/ps").json
        #expect(after["models"]?.arrayValue?.first { $0["name"] == "llama3.2:3b" }?["context_length"] == 4096)
        try await bed.stop()
    }

    @Test func aRequestThatWaitsTooLongGets503AndLeavesTheQueue() async throws {
        // No fallback for llama3.1 here: it must wait for qwen, not take the 3B at once.
        let catalog = BackendTestBed.catalog.replacingOccurrences(of: #", "fallback": "llama3.2:3b""#, with: "")
        let bed = try await DoorBed.start(catalog: catalog) { $0.ollamaQueueTimeout = .seconds(1) }
        bed.bed.ollama.configure { $0.tokenDelay = .milliseconds(150); $0.tokens = 30 }
        // qwen (10.4 GiB) streams for ~4.5 s on a 16 GiB card: llama3.1 (6.2 GiB) must wait.
        let long = Task { try await bed.raw("POST", "/api/generate", json: #"{"model":"qwen2.5:14b","prompt":"hi"}"#) }
        #expect(await eventually { await bed.bed.ollama.inFlight["qwen2.5:14b:latest", default: 0] + (await bed.bed.ollama.inFlight["qwen2.5:14b", default: 0]) > 0 })
        let waited = try await bed.raw("POST", "/api/generate", json: #"{"model":"llama3.1:8b","prompt":"hi","stream":false}"#)
        #expect(waited.status == 503)
        #expect(waited.json["error"]?.stringValue?.contains("waited 1 s for room") == true)
        let list = try await bed.bed.call(.modelsList, nil, as: ModelsListResult.self)
        #expect(list.models.allSatisfy { $0.waiting == 0 })
        _ = try await long.value
        #expect(await bed.bed.ollama.loadCounts["llama3.1:8b", default: 0] == 0)
        try await bed.stop()
    }

    @Test func aClientThatHangsUpLeavesTheQueueAndNothingLoadsForIt() async throws {
        let bed = try await DoorBed.start()
        bed.bed.ollama.configure { $0.tokenDelay = .milliseconds(100); $0.tokens = 20 }
        let long = Task { try await bed.raw("POST", "/api/generate", json: #"{"model":"qwen2.5:14b","prompt":"hi"}"#) }
        #expect(await eventually { await !bed.bed.ollama.inFlight.isEmpty })
        let port = bed.port
        let socket = try await blocking { () -> Int32 in
            let socket = try RawHTTP.connect(port: port)
            let request = RawHTTP.request("POST", "/api/generate", json: #"{"model":"llama3.1:8b","prompt":"hi"}"#)
            _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return socket
        }
        #expect(await eventually {
            ((try? await bed.bed.call(.modelsList, nil, as: ModelsListResult.self))?.models.contains { $0.waiting > 0 }) == true
        })
        close(socket)
        #expect(await eventually {
            ((try? await bed.bed.call(.modelsList, nil, as: ModelsListResult.self))?.models.allSatisfy { $0.waiting == 0 }) == true
        })
        _ = try await long.value
        try await Task.sleep(for: .milliseconds(300))
        #expect(await bed.bed.ollama.loadCounts["llama3.1:8b", default: 0] == 0)
        try await bed.stop()
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        let bed = try await DoorBed.start()
        let big = String(repeating: "x", count: 65 << 20)
        let answer = try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"\#(big)"}"#)
        #expect(answer.status == 413 && answer.text.contains("64 MiB"))
        #expect(await bed.bed.ollama.loadCounts.isEmpty)
        try await bed.stop()
    }

    @Test func anErrorAfterTheStreamStartedIsRelayedAsOllamaSendsIt() async throws {
        let bed = try await DoorBed.start()
        bed.bed.ollama.configure { $0.errorNextStreamAfter = (3, "runner crashed") }
        let answer = try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"hi"}"#)
        let lines = answer.text.split(separator: "\n")
        #expect(answer.status == 200 && lines.count == 4 && lines.last == #"{"error":"runner crashed"}"#)
        try await bed.stop()
    }

    @Test func doorWorkIsCountedInMetricsAndTheDoorIsInStatus() async throws {
        let bed = try await DoorBed.start()
        _ = try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"hi","stream":false}"#)
        let status = try await bed.bed.call(.status, nil, as: StatusResult.self)
        #expect(status.daemon.ollamaDoorURL == "http://127.0.0.1:\(bed.port)")
        let metrics = try await bed.bed.call(.metrics, nil, as: MetricsResult.self)
        #expect(metrics.text.contains(#"gpuctl_door_requests_total{door="ollama",endpoint="/api/generate",status="200"} 1"#))
        try await bed.stop()
    }
}

/// A test bed with the Ollama door on a port of its own.
struct DoorBed {
    let bed: BackendTestBed
    let port: Int

    static func start(vram: UInt64 = 16 << 30, catalog: String = BackendTestBed.catalog,
                      configure: @escaping (inout DaemonConfiguration) -> Void = { _ in }) async throws -> DoorBed {
        let bed = try await BackendTestBed.start(vram: vram, catalog: catalog) { configuration in
            configuration.ollamaListen = ListenAddress(host: "127.0.0.1", port: 0)
            configure(&configuration)
        }
        let url = try await bed.call(.status, nil, as: StatusResult.self).daemon.ollamaDoorURL ?? ""
        let port = Int(url.split(separator: ":").last ?? "") ?? 0
        return DoorBed(bed: bed, port: port)
    }

    var ollamaPort: Int { Int(bed.ollama.baseURL.split(separator: ":").last ?? "") ?? 0 }

    func raw(_ method: String, _ path: String, json: String? = nil, headers: [(String, String)] = []) async throws -> RawHTTP.Answer {
        try await Self.exchange(port: port, method, path, json: json, headers: headers)
    }

    /// The same request straight to the fake Ollama.
    func rawDirect(_ method: String, _ path: String, json: String? = nil) async throws -> RawHTTP.Answer {
        try await Self.exchange(port: ollamaPort, method, path, json: json, headers: [])
    }

    static func exchange(port: Int, _ method: String, _ path: String, json: String?,
                         headers: [(String, String)]) async throws -> RawHTTP.Answer {
        try await blocking {
            try RawHTTP.parse(RawHTTP.exchange(port: port, RawHTTP.request(method, path, json: json, headers: headers), timeout: 30))
        }
    }

    func stop() async throws { try await bed.stop() }
}
