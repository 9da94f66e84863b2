import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The daemon against a real Ollama, when `GPUCTL_IT_OLLAMA=http://host:port` names one.
/// The models must be pulled there: `GPUCTL_IT_OLLAMA_MODELS` (two chat models, comma
/// separated; default `llama3.2:1b,qwen2.5:0.5b`) and `GPUCTL_IT_OLLAMA_EMBED` (default
/// `nomic-embed-text`). `GPUCTL_IT_VRAM` is the card's size (default 24GiB).
enum RealOllama {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["GPUCTL_IT_OLLAMA"].flatMap { $0.isEmpty ? nil : $0 }
}

@Suite(.enabled(if: RealOllama.url != nil, "set GPUCTL_IT_OLLAMA to run against a real Ollama"))
struct RealOllamaTests {
    static let environment = RealOllama.environment
    static let url = RealOllama.url
    static let models = (environment["GPUCTL_IT_OLLAMA_MODELS"] ?? "llama3.2:1b,qwen2.5:0.5b").split(separator: ",").map(String.init)
    static let embedModel = environment["GPUCTL_IT_OLLAMA_EMBED"] ?? "nomic-embed-text"

    func withDaemon(_ body: (TestDaemon) async throws -> Void) async throws {
        let catalogDirectory = try TemporaryDirectory()
        let entries = (Self.models + [Self.embedModel]).map { #""\#($0)": {"backend": "ollama", "vram": "1GiB"}"# }
        let path = catalogDirectory.file("models.json")
        try Data(#"{"models": {\#(entries.joined(separator: ","))}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let vram = ByteSize(parsing: Self.environment["GPUCTL_IT_VRAM"] ?? "24GiB") ?? .gibibytes(24)
        let daemon = try await TestDaemon.start(ollamaURL: Self.url!) {
            $0.catalogPath = path
            $0.declaredVRAM = vram
        }
        do { try await body(daemon) } catch {
            try? await daemon.stop()
            throw error
        }
        try await daemon.stop()
        catalogDirectory.remove()
    }

    func call(_ daemon: TestDaemon, _ method: RPCMethod, _ params: JSONValue?) async throws -> JSONValue {
        let path = daemon.socketPath
        return try await blocking {
            try JSONParser.parse(try RPCClient(socketPath: path, timeout: .seconds(600)).callRaw(method.rawValue, params: params))
        }
    }

    @Test func swapLoadsOneModelAndUnloadsTheOther() async throws {
        try await withDaemon { daemon in
            let first = try await call(daemon, .modelsSwap, ["model": .string(Self.models[0])])
            guard case .array(let loaded)? = first["resident"] else { Issue.record("no resident list"); return }
            #expect(loaded.contains(.string(Self.models[0])))
            let second = try await call(daemon, .modelsSwap, ["model": .string(Self.models[1])])
            guard case .array(let resident)? = second["resident"] else { Issue.record("no resident list"); return }
            #expect(resident.contains(.string(Self.models[1])) && !resident.contains(.string(Self.models[0])))
        }
    }

    @Test func generateStreamsAndEmbedReturnsVectors() async throws {
        try await withDaemon { daemon in
            let path = daemon.socketPath
            let model = Self.models[0]
            let chunks = try await blocking { () -> Int in
                var count = 0
                _ = try RPCClient(socketPath: path, timeout: .seconds(600)).callRaw(
                    "generate", params: ["model": .string(model), "prompt": "Count to five.", "options": ["num_predict": 16]]) { _ in count += 1 }
                return count
            }
            #expect(chunks > 0)
            let embedded = try await call(daemon, .embed, ["model": .string(Self.embedModel), "input": ["a", "b"]])
            #expect((embedded["dimensions"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0) > 0)
        }
    }
}
