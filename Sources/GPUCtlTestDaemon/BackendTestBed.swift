import Foundation
import GPUCtlDaemon
import GPUCtlTestSupport
import GPUCtlModels
import GPUCtlRPC

/// A fake Ollama and a fake ComfyUI on one virtual card, a catalog, the repository's workflow
/// templates, and the real daemon in front of them.
public final class BackendTestBed: Sendable {
    public let gpu: VirtualGPU
    public let ollama: FakeOllama
    public let comfyui: FakeComfyUI
    public let daemon: TestDaemon
    /// The fake TTS server, when the bed was started with one.
    public let speech: FakeSpeech?

    /// The repository's Workflows folder.
    public static let workflowsDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Workflows").path
    }()

    /// The catalog used unless a test gives its own: three chat models that cannot all fit on
    /// 16 GiB, an 8B with a 3B fallback, and a pinned embedding model.
    public static let catalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6.2GiB", "priority": 60, "keep_alive": "30m",
                      "options": {"num_ctx": 8192}, "aliases": ["llama"], "fallback": "llama3.2:3b"},
      "llama3.2:3b": {"backend": "ollama", "vram": "3.1GiB", "priority": 50, "aliases": ["small"]},
      "qwen2.5:14b": {"backend": "ollama", "vram": "10.4GiB", "priority": 70},
      "nomic-embed-text": {"backend": "ollama", "vram": "600MiB", "priority": 90, "pinned": true, "keep_alive": -1,
                           "aliases": ["embed"]}
    }}
    """

    private init(gpu: VirtualGPU, ollama: FakeOllama, comfyui: FakeComfyUI, daemon: TestDaemon, speech: FakeSpeech?) {
        self.speech = speech
        self.gpu = gpu
        self.ollama = ollama
        self.comfyui = comfyui
        self.daemon = daemon
    }

    public static func start(vram: UInt64 = 16 << 30, catalog: String = BackendTestBed.catalog,
                             models: [FakeOllama.Model] = FakeOllama.defaultModels,
                             configure: @escaping (inout DaemonConfiguration) -> Void = { _ in },
                             speech: ((FakeSpeech) -> Void)? = nil) async throws -> BackendTestBed {
        let gpu = VirtualGPU(totalBytes: vram)
        // A TTS server when asked for, set up by `speech` before it starts.
        let tts = speech.map { setUp in
            let fake = FakeSpeech(gpu: gpu)
            setUp(fake)
            return fake
        }
        try await tts?.start()
        let ollama = FakeOllama(gpu: gpu, models: models)
        try await ollama.start()
        let comfyui = FakeComfyUI(gpu: gpu)
        try await comfyui.start()
        let catalogFile = try TemporaryDirectory()
        let path = catalogFile.file("models.json")
        try Data(catalog.utf8).write(to: URL(fileURLWithPath: path))
        let daemon = try await TestDaemon.start(ollamaURL: ollama.baseURL, comfyUIURL: comfyui.baseURL) { configuration in
            configuration.catalogPath = path
            configuration.workflowsDirectory = workflowsDirectory
            configuration.declaredVRAM = ByteSize(bytes: vram)
            configuration.ttsURL = tts?.baseURL
            configure(&configuration)
        }
        // A job's progress only comes over /ws: start once the daemon follows it, as it does
        // within milliseconds on an idle machine (a test that needs it absent stops the fake).
        _ = await eventually { comfyui.connectedClients.contains { $0.hasPrefix("gpuctld") } }
        return BackendTestBed(gpu: gpu, ollama: ollama, comfyui: comfyui, daemon: daemon, speech: tts)
    }

    /// Calls `method` on a new connection (off the cooperative pool) and decodes its result.
    public func call<T: Decodable & Sendable>(_ method: RPCMethod, _ params: JSONValue? = nil, as type: T.Type) async throws -> T {
        let path = daemon.socketPath
        return try await blocking {
            let data = try RPCClient(socketPath: path, timeout: .seconds(30)).callRaw(method.rawValue, params: params)
            return try JSONDecoder().decode(T.self, from: data)
        }
    }

    /// Calls `method` and returns the error kind it answered with (nil on success).
    public func errorKind(_ method: RPCMethod, _ params: JSONValue?) async throws -> String? {
        let path = daemon.socketPath
        return try await blocking {
            do {
                _ = try RPCClient(socketPath: path, timeout: .seconds(30)).callRaw(method.rawValue, params: params)
                return nil
            } catch RPCClientError.remote(let payload) {
                return payload.data?.kind
            }
        }
    }

    /// A streamed call: the notifications' data and the final result (or the error).
    public func stream(_ method: RPCMethod, _ params: JSONValue) async throws -> (chunks: [JSONValue], result: Result<JSONValue, RPCErrorPayload>) {
        let path = daemon.socketPath
        return try await blocking {
            var chunks: [JSONValue] = []
            do {
                let data = try RPCClient(socketPath: path, timeout: .seconds(30)).callRaw(method.rawValue, params: params) {
                    if let value = try? JSONParser.parse($0) { chunks.append(value) }
                }
                return (chunks, .success(try JSONParser.parse(data)))
            } catch RPCClientError.remote(let payload) {
                return (chunks, .failure(payload))
            }
        }
    }

    public func stop() async throws {
        try await daemon.stop()
        await ollama.stop()
        await comfyui.stop()
        await speech?.stop()
    }
}

extension BackendTestBed {
    /// Two Ollama models and the checkpoint the workflows under Workflows/ name.
    public static let jobsCatalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6GiB", "priority": 60},
      "llama3.2:3b": {"backend": "ollama", "vram": "3GiB", "priority": 50},
      "v1-5-pruned-emaonly.safetensors": {"backend": "comfyui", "vram": "5GiB"}
    }}
    """

    /// A bed for ComfyUI jobs: a 16 GiB card and `jobsCatalog`.
    public static func startForJobs(vram: UInt64 = 16 << 30, configure: @escaping (inout DaemonConfiguration) -> Void = { _ in })
        async throws -> BackendTestBed {
        try await start(vram: vram, catalog: jobsCatalog, configure: configure)
    }
}
