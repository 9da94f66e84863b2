import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Replays every request/response pair of docs/rpc.md against a real daemon.
@Suite(.timeLimit(.minutes(3))) struct RPCDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Values that differ between runs: compared by JSON type only.
    static let varying: Set<String> = ["pid", "uptimeSeconds", "socket", "stateDir", "checkedAt", "latencyMs", "url", "path",
                                       "elapsedMs", "loadMs", "waitMs", "totalMs", "expiresAt", "lastUsed",
                                       "totalDuration", "evalDuration", "promptEvalDuration", "loadDuration", "directory",
                                       "heldBefore", "heldAfter", "freed", "createdAt", "updatedAt", "at",
                                       "promptId", "time", "text", "embedMs", "searchMs", "startedAt", "endedAt", "job",
                                       "file", "files", "image"]

    struct Example: Sendable {
        var request: String
        var response: String
    }

    static func examples() throws -> [Example] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/rpc.md"), encoding: .utf8)
        var examples: [Example] = []
        var pendingRequest: String?
        var block: [String]?
        var kind = ""
        for line in text.components(separatedBy: "\n") {
            if var lines = block {
                if line == "```" {
                    let body = lines.joined(separator: "\n")
                    if kind == "request" { pendingRequest = body }
                    if kind == "response", let request = pendingRequest {
                        examples.append(Example(request: request, response: body))
                        pendingRequest = nil
                    }
                    block = nil
                } else {
                    lines.append(line)
                    block = lines
                }
            } else if line == "```json request" || line == "```json response" {
                kind = String(line.dropFirst("```json ".count))
                block = []
            }
        }
        return examples
    }

    /// Same shape everywhere; same values except under `varying` keys.
    static func matches(_ actual: JSONValue, _ expected: JSONValue, key: String = "", path: String = "$") -> [String] {
        switch (actual, expected) {
        case (.object(let a), .object(let e)):
            guard Set(a.keys) == Set(e.keys) else { return ["\(path): keys \(a.keys.sorted()) != \(e.keys.sorted())"] }
            return e.keys.sorted().flatMap { matches(a[$0]!, e[$0]!, key: $0, path: "\(path).\($0)") }
        case (.array(let a), .array(let e)):
            guard a.count == e.count else { return ["\(path): \(a.count) items, the docs show \(e.count)"] }
            return zip(a, e).enumerated().flatMap { matches($1.0, $1.1, key: key, path: "\(path)[\($0)]") }
        default:
            if varying.contains(key) {
                return actual.typeName == expected.typeName ? [] : ["\(path): \(actual.typeName), the docs show \(expected.typeName)"]
            }
            return actual == expected ? [] : ["\(path): \(actual), the docs show \(expected)"]
        }
    }

    /// Every documented request is built from its method's params type: one the type refuses
    /// is one the docs show refused (some are refused later, for what they name: a job that
    /// ended), and one it reads says the same when written back.
    @Test func everyExampleRequestReadsAsItsMethodsParamsType() throws {
        for example in try Self.examples() {
            // Examples of bad framing (not JSON, a batch) are about the transport, not params.
            guard let request = try? JSONDecoder().decode(JSONValue.self, from: Data(example.request.utf8)),
                  let name = request["method"]?.stringValue, let method = RPCMethod(rawValue: name) else { continue }
            let response = try JSONDecoder().decode(JSONValue.self, from: Data(example.response.split(separator: "\n").last!.utf8))
            let refused = response["error"]?["data"]?["kind"]?.stringValue == "invalid_params"
            do {
                let params = try method.paramsType.init(method: name, params: request["params"])
                let again = try method.paramsType.init(method: name, params: params.json)
                #expect(again.json == params.json, "\(example.request)")
            } catch {
                #expect(refused, "\(example.request): \(error.message)")
            }
        }
    }

    @Test func everyExampleIsWhatTheDaemonAnswers() async throws {
        let examples = try Self.examples()
        #expect(examples.count >= 8)
        let documented = Set(examples.compactMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.request.utf8))["method"]?.stringValue })
        for method in RPCMethod.allCases {
            #expect(documented.contains(method.rawValue), "docs/rpc.md has no example for \(method.rawValue)")
        }

        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let ollama = FakeOllama(gpu: gpu)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await ollama.start()
        try await comfyui.start()
        let daemon = try await TestDaemon.start(ollamaURL: ollama.baseURL, comfyUIURL: comfyui.baseURL) {
            $0.catalogPath = Self.root.appendingPathComponent("models.json").path
            $0.workflowsDirectory = Self.root.appendingPathComponent("Workflows").path
        }
        let path = daemon.socketPath
        #expect(await eventually {
            let status = try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self) }
            return status.backends.ollama.state == .up && status.backends.comfyui.state == .up
        })
        // GPUCTL_DOCS_PRINT=1 prints what the daemon answers, to write new examples from.
        let printing = ProcessInfo.processInfo.environment["GPUCTL_DOCS_PRINT"] == "1"
        // `$JOB` in an example stands for the id of the job the last comfy.submit example queued,
        // `$RUN` for the last pipeline.run's; the test waits for that job to end before the next
        // example, so answers are stable.
        var ids = ["$JOB": "$JOB", "$RUN": "$RUN"]
        let placeholders = [#""method":"comfy.submit""#: "$JOB", #""method":"pipeline.run""#: "$RUN"]
        func substituted(_ text: String) -> String {
            ids.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }
        for example in examples {
            let request = substituted(example.request)
            // A streaming method answers with notifications, then its response: one line each.
            let lineCount = example.response.split(separator: "\n").filter { !$0.isEmpty }.count
            let lines = try await blocking { () throws -> [Data] in
                let client = try RPCClient(socketPath: path)
                try client.send(Data(request.utf8))
                return try (0..<lineCount).map { _ in try client.readLine() }
            }
            if let placeholder = placeholders.first(where: { request.contains($0.key) })?.value, let line = lines.last,
               let id = try JSONDecoder().decode(JSONValue.self, from: line)["result"]?["id"]?.stringValue {
                ids[placeholder] = id
                #expect(await eventually {
                    try await blocking { try RPCClient(socketPath: path).call(.jobsGet, params: ["id": .string(id)], as: JobInfo.self).isFinal }
                })
            }
            let expectedLines = substituted(example.response).split(separator: "\n").filter { !$0.isEmpty }
            for (line, expectedLine) in zip(lines, expectedLines) {
                if printing { print("DOCS \(String(decoding: line, as: UTF8.self))") }
                let actual = try JSONDecoder().decode(JSONValue.self, from: line)
                let expected = try JSONDecoder().decode(JSONValue.self, from: Data(expectedLine.utf8))
                let differences = Self.matches(actual, expected)
                #expect(printing || differences.isEmpty, "\(example.request)\n\(differences.joined(separator: "\n"))")
            }
        }
        try await daemon.stop()
        await ollama.stop()
        await comfyui.stop()
    }
}
