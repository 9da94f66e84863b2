import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// OpenAI's framing through the door, and the door's clients sharing one card with socket work
/// and ComfyUI jobs.
@Suite(.timeLimit(.minutes(3))) struct OllamaDoorLoadTests {
    @Test func openAIStreamsAreServerSentEventsEndingWithDone() async throws {
        let bed = try await DoorBed.start()
        let answer = try await bed.raw("POST", "/v1/chat/completions", json: """
            {"model":"llama3.2:3b","stream":true,"stream_options":{"include_usage":true},"max_tokens":3,
             "messages":[{"role":"user","content":"hi"}]}
            """)
        #expect(answer.status == 200 && answer.headers["content-type"] == "text/event-stream" && answer.chunked)
        let events = answer.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.allSatisfy { $0.hasPrefix("data: ") } && answer.text.hasSuffix("data: [DONE]\n\n"))
        let objects = events.dropLast().map { JSONParser.parseOrNull(String($0.dropFirst(6))) }
        // 3 chunks with text, the final one, the usage chunk, then [DONE].
        #expect(objects.count == 5, "\(events)")
        #expect(objects.first?["object"] == "chat.completion.chunk" && objects.first?["choices"]?.arrayValue?.first?["delta"]?["content"] == "The")
        #expect(objects[3]["choices"]?.arrayValue?.first?["finish_reason"] == "length")
        #expect(objects[4]["choices"] == .array([]) && objects[4]["usage"]?["completion_tokens"] == 3)
        #expect(Set(objects.map { $0["id"] }).count == 1)
        try await bed.stop()
    }

    @Test func openAIAnswersAreOneObjectAndErrorsAreOpenAIsShape() async throws {
        let bed = try await DoorBed.start()
        let whole = try await bed.raw("POST", "/v1/chat/completions",
                                      json: #"{"model":"llama3.2:3b","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(whole.status == 200 && whole.headers["content-type"] == "application/json" && !whole.chunked)
        #expect(whole.json["object"] == "chat.completion" && whole.json["usage"]?["total_tokens"] == 20)
        let missing = try await bed.raw("POST", "/v1/chat/completions",
                                        json: #"{"model":"nosuch","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(missing.status == 404 && missing.json["error"]?["type"] == "not_found_error")
        #expect(missing.json["error"]?["message"] == "model 'nosuch' not found")
        let bad = try await bed.raw("POST", "/v1/chat/completions", json: #"{"model":"small","messages":[]}"#)
        #expect(bad.status == 400 && bad.json["error"]?["type"] == "invalid_request_error")
        let notJSON = try await bed.raw("POST", "/v1/embeddings", json: "{oops")
        #expect(notJSON.status == 400)
        let models = try await bed.raw("GET", "/v1/models")
        #expect(models.json["object"] == "list" && models.json["data"]?.arrayValue?.count == 4)
        #expect(await bed.bed.ollama.loadCounts.keys.sorted() == ["llama3.2:3b"])
        try await bed.stop()
    }

    @Test func doorSocketAndComfyUIWorkShareOneCardWithinItsTotal() async throws {
        let bed = try await DoorBed.start(catalog: Self.catalog)
        bed.bed.ollama.configure { $0.tokenDelay = .milliseconds(5) }
        let port = bed.port
        let socket = bed.bed
        let models = ["llama3.1:8b", "qwen2.5:14b", "llama3.2:3b"]
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<32 {
                group.addTask {
                    let json = #"{"model":"\#(models[index % 3])","messages":[{"role":"user","content":"hi \#(index)"}]}"#
                    let answer = try await DoorBed.exchange(port: port, "POST", "/api/chat", json: json, headers: [])
                    let lines = answer.text.split(separator: "\n")
                    return answer.status == 200 && lines.last?.contains(#""done":true"#) == true ? 200 : answer.status
                }
            }
            for index in 0..<6 {
                group.addTask {
                    let (_, result) = try await socket.stream(.generate, ["model": .string(models[index % 3]), "prompt": "hi"])
                    return (try? result.get()) == nil ? 500 : 200
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    let job = try await socket.call(.comfySubmit, ["workflow": "invert", "params": ["width": 64]], as: JobInfo.self)
                    let done = try await socket.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
                    return done.state == "succeeded" ? 200 : 500
                }
            }
            var all: [Int] = []
            for try await status in group { all.append(status) }
            return all
        }
        #expect(statuses.count == 41 && statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(await bed.bed.gpu.peakBytes <= bed.bed.gpu.totalBytes)
        #expect(await bed.bed.ollama.partialLoads == 0)
        let loads = await bed.bed.ollama.loadCounts
        // Grouped by model, not reloaded per request: far fewer loads than the 38 requests.
        #expect(loads.values.allSatisfy { $0 <= 8 } && loads.values.reduce(0, +) < 20, "\(loads)")
        try await bed.stop()
    }

    /// Three chat models that cannot all be resident on 16 GiB, no fallbacks, and the
    /// checkpoint the invert workflow needs.
    static let catalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6.2GiB", "priority": 60},
      "llama3.2:3b": {"backend": "ollama", "vram": "3.1GiB", "priority": 50},
      "qwen2.5:14b": {"backend": "ollama", "vram": "10.4GiB", "priority": 70},
      "v1-5-pruned-emaonly.safetensors": {"backend": "comfyui", "vram": "5GiB"}
    }}
    """
}

extension JSONParser {
    /// The JSON in `text`, or null.
    static func parseOrNull(_ text: String) -> JSONValue { (try? parse(Array(text.utf8))) ?? .null }
}
