import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Load, unload and swap through the real daemon against the fake Ollama on a 16 GiB card.
@Suite(.timeLimit(.minutes(3))) struct ModelResidencyTests {
    @Test func swapAThenBLeavesOnlyBAndTheCardIsNeverOverfull() async throws {
        let bed = try await BackendTestBed.start()
        let first = try await bed.call(.modelsSwap, ["model": "llama"], as: ModelChangeResult.self)
        #expect(first.model == "llama3.1:8b" && first.outcome == "loaded" && first.resident == ["llama3.1:8b"])
        let second = try await bed.call(.modelsSwap, ["model": "qwen2.5:14b"], as: ModelChangeResult.self)
        #expect(second.resident == ["qwen2.5:14b"] && second.unloaded == ["llama3.1:8b"])
        #expect(await bed.ollama.residentNames == ["qwen2.5:14b"])
        #expect(await bed.gpu.peakBytes <= bed.gpu.totalBytes)
        // The catalog's runner options went with the load, so Ollama will not reload it later.
        let again = try await bed.call(.modelsSwap, ["model": "qwen2.5:14b"], as: ModelChangeResult.self)
        #expect(again.outcome == "already_resident")
        try await bed.stop()
    }

    @Test func loadUnloadAndTheListShowWhatIsResident() async throws {
        let bed = try await BackendTestBed.start()
        let loaded = try await bed.call(.modelsLoad, ["model": "small", "keep_alive": "1h"], as: ModelChangeResult.self)
        #expect(loaded.model == "llama3.2:3b" && loaded.outcome == "loaded" && loaded.loadMs != nil)
        let list = try await bed.call(.modelsList, nil, as: ModelsListResult.self)
        let entry = try #require(list.models.first { $0.name == "llama3.2:3b" })
        #expect(entry.state == "loaded" && entry.sizeVRAM == ByteSize(bytes: 3_100 << 20) && entry.expiresAt != nil)
        #expect(entry.keepAlive == "1h" && entry.learnedVRAM == ByteSize(bytes: 3_100 << 20))
        #expect(list.used == ByteSize(bytes: 3_100 << 20))
        let unloaded = try await bed.call(.modelsUnload, ["model": "llama3.2:3b"], as: [ModelChangeResult].self)
        #expect(unloaded.first?.outcome == "unloaded" && unloaded.first?.resident == [])
        #expect(await bed.ollama.residentNames.isEmpty)
        let again = try await bed.call(.modelsUnload, ["all": true], as: [ModelChangeResult].self)
        #expect(again.isEmpty)
        try await bed.stop()
    }

    @Test func aModelLoadedBehindGPUCtldsBackIsCounted() async throws {
        let models = FakeOllama.defaultModels + [FakeOllama.Model(name: "phi3:mini", sizeBytes: 2_300 << 20)]
        let bed = try await BackendTestBed.start(models: models)
        #expect(await bed.ollama.preload("phi3:mini"))
        #expect(await eventually {
            let list = try await bed.call(.modelsList, nil, as: ModelsListResult.self)
            return list.models.contains { $0.name == "phi3:mini" && $0.state == "loaded" && !$0.inCatalog }
        })
        // qwen (10.4 GiB) and phi3 (2.3 GiB) fit in 15.5 GiB; the 8B then needs phi3 gone.
        _ = try await bed.call(.modelsLoad, ["model": "qwen2.5:14b"], as: ModelChangeResult.self)
        let loaded = try await bed.call(.modelsLoad, ["model": "llama3.1:8b", "class": "batch"], as: ModelChangeResult.self)
        #expect(loaded.model == "llama3.1:8b" || loaded.fallbackUsed)
        #expect(await bed.gpu.peakBytes <= bed.gpu.totalBytes)
        try await bed.stop()
    }

    @Test func aModelOnlyOllamaHasCanBeUsedAndAnUnknownOneIsRefused() async throws {
        let models = FakeOllama.defaultModels + [FakeOllama.Model(name: "phi3:mini", sizeBytes: 2_300 << 20)]
        let bed = try await BackendTestBed.start(models: models)
        let loaded = try await bed.call(.modelsLoad, ["model": "phi3:mini"], as: ModelChangeResult.self)
        #expect(loaded.outcome == "loaded")
        #expect(try await bed.errorKind(.generate, ["model": "nosuch", "prompt": "hi"]) == "model_not_found")
        #expect(try await bed.errorKind(.modelsSwap, ["model": "nosuch"]) == "model_not_found")
        #expect(await bed.ollama.loadCounts == ["phi3:mini": 1])
        try await bed.stop()
    }

    @Test func whatCanNeverFitFailsAtOnceWithTheNumbers() async throws {
        let bed = try await BackendTestBed.start(vram: 8 << 30)
        let path = bed.daemon.socketPath
        let message = try await blocking { () -> String in
            do {
                _ = try RPCClient(socketPath: path).callRaw("models.load", params: ["model": "qwen2.5:14b"])
                return ""
            } catch RPCClientError.remote(let payload) {
                return payload.message
            }
        }
        #expect(message.contains("qwen2.5:14b needs 10.4 GiB but can never fit: the budget is 7.5 GiB"))
        #expect(await bed.ollama.loadCounts.isEmpty)
        try await bed.stop()
    }

    @Test func aFailedLoadRunsOnTheFallbackAndSaysSo() async throws {
        let bed = try await BackendTestBed.start()
        bed.ollama.configure { $0.failNextLoads = (1, "this model may be incompatible with your version of Ollama") }
        let (_, result) = try await bed.stream(.generate, ["model": "llama3.1:8b", "prompt": "hi"])
        let value = try result.get()
        #expect(value["model"] == "llama3.2:3b" && value["fallbackUsed"] == true && value["requestedModel"] == "llama3.1:8b")
        try await bed.stop()
    }
}
