import Foundation
import GPUCtlModels
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// An in-process Ollama that speaks the real HTTP API (../shared/reference/ollama-api.md) on
/// 127.0.0.1, charging the models it holds to a shared `VirtualGPU`. Models load, stream,
/// expire and unload as Ollama's scheduler does (§8, §9), and every fault a test needs has a knob.
public final class FakeOllama: Sendable {
    /// A model the fake has "pulled".
    public struct Model: Sendable {
        public var name: String
        public var sizeBytes: UInt64
        public var family: String
        public var parameterSize: String
        public var contextLength: Int
        /// `completion`, or `embedding` for an embedding-only model.
        public var capabilities: [String]
        /// Length of the vectors /api/embed returns.
        public var embeddingLength: Int

        public init(name: String, sizeBytes: UInt64, family: String = "llama", parameterSize: String = "8.0B",
                    contextLength: Int = 4096, capabilities: [String] = ["completion"], embeddingLength: Int = 4096) {
            self.name = name
            self.sizeBytes = sizeBytes
            self.family = family
            self.parameterSize = parameterSize
            self.contextLength = contextLength
            self.capabilities = capabilities
            self.embeddingLength = embeddingLength
        }
    }

    /// Fault knobs and timings. Change them with `configure`.
    public struct Knobs: Sendable {
        public var version = "0.33.0-rc2"
        /// Delay before every answer.
        public var latency: Duration = .zero
        /// The next N requests fail with this status and message (before any output).
        public var failNext: (count: Int, status: Int, message: String) = (0, 500, "")
        /// How long a load takes.
        public var loadTime: Duration = .milliseconds(20)
        /// The next N loads fail with this message (500), as an incompatible model would.
        public var failNextLoads: (count: Int, message: String) = (0, "")
        /// Wait after the model is ready and before the first chunk.
        public var firstByteDelay: Duration = .zero
        /// Wait between chunks.
        public var tokenDelay: Duration = .zero
        /// Chunks with text per answer, unless `options.num_predict` says fewer.
        public var tokens = 12
        /// How long /api/ps keeps listing a model after its unload was answered.
        public var unloadDelay: Duration = .milliseconds(30)
        /// The next stream is cut (connection closed) after this many chunks.
        public var dropNextStreamAfter: Int?
        /// The next stream gets an `{"error":…}` line after this many chunks.
        public var errorNextStreamAfter: (chunks: Int, message: String)?
        /// Loads waiting at once before Ollama answers 503.
        public var maximumPendingLoads = 512
        /// Default keep_alive of a new load, in seconds (OLLAMA_KEEP_ALIVE).
        public var defaultKeepAlive: Double = 300
        /// Each chunk's text padded to this many bytes (a big answer without millions of chunks).
        public var chunkBytes: Int?
        /// Record when each chunk is written (`chunkTimes`), for latency benchmarks.
        public var recordChunkTimes = false
        /// The answer's text, chosen from the request (generate's prompt, or chat's last
        /// message, and whether `format` was asked for); nil keeps the usual words. A script
        /// is how tests have an LLM write JSON for a pipeline.
        public var script: (@Sendable (_ prompt: String, _ format: JSONValue?) -> String?)?
    }

    /// When each chunk was handed to the connection, while `recordChunkTimes` is on.
    public let chunkTimes = LockedBox<[ContinuousClock.Instant]>([])

    public let gpu: VirtualGPU
    let knobs: LockedBox<Knobs>
    let engine: Engine
    private let server: FakeHTTPServer

    public init(gpu: VirtualGPU, models: [Model] = FakeOllama.defaultModels) {
        self.gpu = gpu
        let knobs = LockedBox(Knobs())
        let engine = Engine(gpu: gpu, models: models, knobs: knobs)
        let chunkTimes = self.chunkTimes
        self.knobs = knobs
        self.engine = engine
        self.server = FakeHTTPServer { port, onServerRunning, connections in
            Application(router: Self.router(knobs: knobs, engine: engine, chunkTimes: chunkTimes),
                        server: HTTPServerBuilder { responder in connections.tracking(HTTP1Channel(responder: responder)) },
                        configuration: .init(address: .hostname("127.0.0.1", port: port)),
                        onServerRunning: onServerRunning,
                        logger: Logger(label: "fake-ollama", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    public static let defaultModels = [
        Model(name: "llama3.1:8b", sizeBytes: 6_200 << 20, parameterSize: "8.0B"),
        Model(name: "qwen2.5:14b", sizeBytes: 10_400 << 20, family: "qwen2", parameterSize: "14.8B"),
        Model(name: "llama3.2:3b", sizeBytes: 3_100 << 20, parameterSize: "3.2B"),
        Model(name: "nomic-embed-text:latest", sizeBytes: 600 << 20, family: "nomic-bert", parameterSize: "137M",
              contextLength: 2048, capabilities: ["embedding"], embeddingLength: 768),
    ]

    public var baseURL: String { server.baseURL }
    public func start() async throws { try await server.start() }
    /// Stops listening: connections are refused until `start()` or `restart()`.
    public func stop() async { await server.stop() }
    /// False while stopped (connections refused).
    public var isServing: Bool { server.isServing }

    /// Like an Ollama restart: forgets every resident model and frees its memory.
    public func restart() async throws {
        await server.stop()
        await engine.forgetAll()
        try await server.start()
    }

    /// Changes knobs; takes effect for the next request.
    public func configure(_ change: (inout Knobs) -> Void) { knobs.mutate(change) }
    public func setLatency(_ latency: Duration) { configure { $0.latency = latency } }
    public func failNext(_ count: Int, status: Int = 500, message: String = "fake failure") {
        configure { $0.failNext = (count, status, message) }
    }

    /// Makes a model resident as if someone ran it directly through Ollama.
    @discardableResult
    public func preload(_ name: String, keepAlive: TimeInterval = 300) async -> Bool {
        await engine.preload(name, keepAlive: keepAlive)
    }

    /// Names of resident models (loading and unloading ones included).
    public var residentNames: [String] { get async { await engine.residentNames } }
    /// The keep_alive a resident model was last given, in seconds.
    public func keepAlive(of name: String) async -> Double? { await engine.keepAlive(of: FakeOllama.normalise(name)) }
    /// How many times each model was loaded since the fake started.
    public var loadCounts: [String: Int] { get async { await engine.loadCounts } }
    /// Loads that found the card too full and went partly to the CPU (gpuctld should prevent them).
    public var partialLoads: Int { get async { await engine.partialLoads } }
    /// Requests being answered now, per model.
    public var inFlight: [String: Int] { get async { await engine.inFlightCounts } }

    /// `llama3.2` → `llama3.2:latest`, as Ollama reports names; matching ignores case.
    static func normalise(_ name: String) -> String {
        let lowered = name.lowercased()
        return lowered.contains(":") ? lowered : "\(lowered):latest"
    }
}
