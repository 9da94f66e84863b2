import Foundation
import Hummingbird
import Logging
import NIOCore

/// An in-process Ollama that speaks the real HTTP API (../shared/reference/ollama-api.md) on
/// 127.0.0.1, charging the models it holds to a shared `VirtualGPU`.
public final class FakeOllama: Sendable {
    /// A model the fake has "pulled".
    public struct Model: Sendable {
        public var name: String
        public var sizeBytes: UInt64
        public var family: String
        public var parameterSize: String
        public var contextLength: Int

        public init(name: String, sizeBytes: UInt64, family: String = "llama", parameterSize: String = "8.0B",
                    contextLength: Int = 4096) {
            self.name = name
            self.sizeBytes = sizeBytes
            self.family = family
            self.parameterSize = parameterSize
            self.contextLength = contextLength
        }
    }

    struct Resident: Sendable {
        var model: Model
        var expiresAt: Date
    }

    /// Fault knobs and state.
    struct State: Sendable {
        var version = "0.33.0-rc2"
        var models: [String: Model] = [:]
        var residents: [String: Resident] = [:]
        /// Delay before every answer.
        var latency: Duration = .zero
        /// The next N requests fail with this status and message.
        var failNext: (count: Int, status: Int, message: String) = (0, 500, "")
    }

    public let gpu: VirtualGPU
    private let state: LockedBox<State>
    private let server: FakeHTTPServer

    public init(gpu: VirtualGPU, models: [Model] = FakeOllama.defaultModels) {
        self.gpu = gpu
        var initial = State()
        for model in models { initial.models[Self.normalise(model.name)] = model }
        let state = LockedBox(initial)
        self.state = state
        self.server = FakeHTTPServer { port in
            Application(router: Self.router(state: state, gpu: gpu),
                        configuration: .init(address: .hostname("127.0.0.1", port: port)),
                        onServerRunning: BoundPortReporter.onServerRunning,
                        logger: Logger(label: "fake-ollama", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    public static let defaultModels = [
        Model(name: "llama3.1:8b", sizeBytes: 6_200 << 20, parameterSize: "8.0B"),
        Model(name: "qwen2.5:14b", sizeBytes: 10_400 << 20, family: "qwen2", parameterSize: "14.8B"),
        Model(name: "llama3.2:3b", sizeBytes: 3_100 << 20, parameterSize: "3.2B"),
        Model(name: "nomic-embed-text:latest", sizeBytes: 600 << 20, family: "nomic-bert", parameterSize: "137M"),
    ]

    public var baseURL: String { server.baseURL }
    public func start() async throws { try await server.start() }
    /// Stops listening: connections are refused until `start()` or `restart()`.
    public func stop() async { await server.stop() }

    /// Like an Ollama restart: forgets every resident model and frees its memory.
    public func restart() async throws {
        await server.stop()
        let names = state.mutate { state -> [String] in
            defer { state.residents = [:] }
            return Array(state.residents.keys)
        }
        for name in names { await gpu.release("ollama:\(name)") }
        try await server.start()
    }

    public func setLatency(_ latency: Duration) { state.mutate { $0.latency = latency } }
    public func failNext(_ count: Int, status: Int = 500, message: String = "fake failure") {
        state.mutate { $0.failNext = (count, status, message) }
    }

    /// Makes a model resident as if someone ran it directly through Ollama.
    @discardableResult
    public func preload(_ name: String, keepAlive: TimeInterval = 300) async -> Bool {
        guard let model = state.value.models[Self.normalise(name)] else { return false }
        guard await gpu.allocate("ollama:\(model.name)", bytes: model.sizeBytes) else { return false }
        state.mutate { $0.residents[model.name] = Resident(model: model, expiresAt: Date().addingTimeInterval(keepAlive)) }
        return true
    }

    /// Names of resident models.
    public var residentNames: [String] { state.value.residents.keys.sorted() }

    /// `llama3.2` → `llama3.2:latest`, as Ollama reports names.
    static func normalise(_ name: String) -> String {
        name.contains(":") ? name : "\(name):latest"
    }
}
