import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// gpuctld never fights a pin: a model someone keeps forever in Ollama (or models.load keeps
/// forever) is neither evicted nor has its keep_alive reset by gpuctld's requests.
@Suite(.timeLimit(.minutes(3))) struct ModelPinTests {
    /// The names Ollama lists in /api/ps, and whether each is kept forever.
    static func ollamaPS(_ bed: BackendTestBed) async throws -> [String: Bool] {
        let port = Int(bed.ollama.baseURL.split(separator: ":").last ?? "") ?? 0
        let answer = try await blocking { try RawHTTP.parse(RawHTTP.exchange(port: port, RawHTTP.request("GET", "/api/ps"))) }
        var result: [String: Bool] = [:]
        for model in answer.json["models"]?.arrayValue ?? [] {
            guard let name = model["name"]?.stringValue else { continue }
            let year = Int(model["expires_at"]?.stringValue?.prefix(4) ?? "") ?? 0
            result[name] = year > 2100
        }
        return result
    }

    static func waitUntilListed(_ bed: BackendTestBed, _ name: String) async -> Bool {
        await eventually {
            let list = try await bed.call(.modelsList, nil, as: ModelsListResult.self)
            return list.models.contains { $0.name == name && $0.state == "loaded" }
        }
    }

    @Test func aModelPinnedBehindGPUCtldsBackIsNotEvicted() async throws {
        let models = FakeOllama.defaultModels + [FakeOllama.Model(name: "phi3:mini", sizeBytes: 2_300 << 20)]
        let bed = try await BackendTestBed.start(vram: 8 << 30, models: models)
        #expect(await bed.ollama.preload("phi3:mini", keepAlive: .infinity))
        #expect(await Self.waitUntilListed(bed, "phi3:mini"))
        // The 8B (6.2 GiB) fits 7.5 GiB only without phi3, which someone keeps forever.
        let path = bed.daemon.socketPath
        let message = try await blocking { () -> String in
            do {
                _ = try RPCClient(socketPath: path).callRaw("models.load", params: ["model": "llama3.1:8b"])
                return "loaded"
            } catch RPCClientError.remote(let payload) {
                return payload.message
            }
        }
        #expect(message.contains("can never fit") && message.contains("pinned models hold"), "\(message)")
        #expect(try await Self.ollamaPS(bed)["phi3:mini"] == true, "the pinned model is still there, still pinned")
        try await bed.stop()
    }

    @Test func requestsDoNotResetAPinAnotherClientSet() async throws {
        let catalog = """
        {"models": {"llama3.2:3b": {"backend": "ollama", "vram": "3.1GiB", "keep_alive": "10m", "aliases": ["small"]}}}
        """
        let bed = try await BackendTestBed.start(catalog: catalog)
        // The 3B: the catalog sets no runner options for it, so Ollama keeps the same runner.
        #expect(await bed.ollama.preload("llama3.2:3b", keepAlive: .infinity))
        #expect(await Self.waitUntilListed(bed, "llama3.2:3b"))
        // The catalog says 10m; sending it would cut the pin to half an hour.
        _ = try await bed.stream(.generate, ["model": "llama3.2:3b", "prompt": "hi"])
        _ = try await bed.stream(.chat, ["model": "small", "messages": [["role": "user", "content": "hi"]]])
        #expect(try await Self.ollamaPS(bed)["llama3.2:3b"] == true)
        try await bed.stop()
    }

    @Test func modelsLoadForeverIsAPin() async throws {
        let bed = try await BackendTestBed.start()
        _ = try await bed.call(.modelsLoad, ["model": "llama3.1:8b", "keep_alive": "-1m"], as: ModelChangeResult.self)
        // qwen (10.4 GiB) and the 8B (6.2) do not fit 15.5 GiB together, and the 8B is pinned now.
        let kind = try await bed.errorKind(.modelsLoad, ["model": "qwen2.5:14b"])
        #expect(kind != nil, "qwen was loaded by evicting a pinned model")
        #expect(try await Self.ollamaPS(bed).keys.contains("llama3.1:8b"))
        // Unloaded on purpose, it is no longer pinned: qwen then fits.
        _ = try await bed.call(.modelsUnload, ["model": "llama3.1:8b"], as: JSONValue.self)
        let qwen = try await bed.call(.modelsLoad, ["model": "qwen2.5:14b"], as: ModelChangeResult.self)
        #expect(qwen.model == "qwen2.5:14b" && !qwen.fallbackUsed)
        try await bed.stop()
    }
}
