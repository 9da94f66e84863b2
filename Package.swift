// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "gpuctl",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "gpuctld", targets: ["gpuctld"]),
        .executable(name: "gpuctl", targets: ["gpuctl"]),
        .executable(name: "gpuctl-bench", targets: ["gpuctl-bench"]),
        .executable(name: "gpuctl-fuzz", targets: ["gpuctl-fuzz"]),
        .executable(name: "gpuctl-sim", targets: ["gpuctl-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Wire contract shared by daemon and CLI. Foundation only.
        .target(name: "GPUCtlModels"),
        // Pure logic: catalog validation, VRAM budget. No I/O.
        .target(name: "GPUCtlCore", dependencies: ["GPUCtlModels"]),
        // The trace simulator: the real Scheduler and baselines on a simulated card. No I/O.
        .target(name: "GPUCtlSim", dependencies: ["GPUCtlCore", "GPUCtlModels"]),
        .executableTarget(name: "gpuctl-sim", dependencies: [
            "GPUCtlSim", "GPUCtlModels", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // JSON over HTTP with deadlines, shared by both backend clients.
        .target(name: "BackendHTTP", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "OllamaClient", dependencies: [
            "BackendHTTP", "GPUCtlModels",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SpeechClient", dependencies: [
            "BackendHTTP", "GPUCtlModels",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "ComfyUIClient", dependencies: [
            "BackendHTTP", "GPUCtlModels",
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Child processes: posix_spawn, close-on-exec pipes, exits waited for off the cooperative pool.
        .target(name: "CProcessSpawn"),
        .target(name: "ProcessSpawn", dependencies: ["CProcessSpawn"]),
        .target(name: "GPUProbe", dependencies: [
            "ProcessSpawn",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "GPUCtlStore", dependencies: [
            "GPUCtlModels",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .target(name: "GPUCtlRPC", dependencies: [
            "GPUCtlModels",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "GPUCtlDaemon", dependencies: [
            "GPUCtlModels", "GPUCtlCore", "GPUCtlRPC", "GPUCtlStore", "GPUProbe",
            "OllamaClient", "ComfyUIClient", "SpeechClient",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "WSClient", package: "swift-websocket"),
        ]),
        // libFuzzer targets over the client and config decoders (scripts/fuzz); a replayer when built normally.
        .executableTarget(name: "gpuctl-fuzz", dependencies: ["GPUCtlModels", "GPUCtlCore"]),
        .target(name: "GPUCtlCommands", dependencies: [
            "GPUCtlModels", "GPUCtlRPC", "ProcessSpawn",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "gpuctl", dependencies: ["GPUCtlCommands"]),
        .executableTarget(name: "gpuctld", dependencies: [
            "GPUCtlDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "gpuctl-bench", dependencies: [
            "GPUCtlModels", "GPUCtlRPC", "GPUCtlCore", "GPUCtlStore", "OllamaClient", "ComfyUIClient", "GPUCtlTestSupport", "ProcessSpawn",
            "GPUCtlSim",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // In-process fake Ollama and ComfyUI (real HTTP/WebSocket servers on 127.0.0.1:0), a fake
        // NVML, and the helpers tests share. No daemon: client tests do not build it.
        .target(name: "GPUCtlTestSupport", dependencies: [
            "GPUCtlModels", "GPUCtlRPC", "ProcessSpawn",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The real daemon in-process against the fakes.
        .target(name: "GPUCtlTestDaemon", dependencies: [
            "GPUCtlDaemon", "GPUCtlTestSupport", "GPUCtlModels", "GPUCtlRPC",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // One test target per library target.
        .testTarget(name: "ProcessSpawnTests", dependencies: ["ProcessSpawn"]),
        .testTarget(name: "GPUCtlModelsTests", dependencies: ["GPUCtlModels"]),
        .testTarget(name: "GPUCtlCoreTests", dependencies: ["GPUCtlCore", "GPUCtlModels"]),
        .testTarget(name: "GPUCtlSimTests", dependencies: ["GPUCtlSim", "GPUCtlCore", "GPUCtlModels", "GPUCtlTestSupport"]),
        .testTarget(name: "GPUProbeTests", dependencies: [
            "GPUProbe", "GPUCtlTestSupport", "ProcessSpawn", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "GPUCtlStoreTests", dependencies: [
            "GPUCtlStore", "GPUCtlModels", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "GPUCtlRPCTests", dependencies: ["GPUCtlRPC", "GPUCtlModels", "GPUCtlTestSupport"]),
        .testTarget(name: "BackendHTTPTests", dependencies: ["BackendHTTP"]),
        .testTarget(name: "OllamaClientTests", dependencies: [
            "OllamaClient", "GPUCtlTestSupport", "GPUCtlModels",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SpeechClientTests", dependencies: [
            "SpeechClient", "GPUCtlTestSupport", "GPUCtlModels",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ComfyUIClientTests", dependencies: [
            "ComfyUIClient", "GPUCtlTestSupport", "GPUCtlModels",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "GPUCtlDaemonTests", dependencies: [
            "GPUCtlDaemon", "GPUCtlTestDaemon", "GPUCtlTestSupport", "GPUCtlRPC", "GPUCtlModels", "GPUCtlCore", "GPUCtlStore",
            "ComfyUIClient", "OllamaClient", "ProcessSpawn",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "WSClient", package: "swift-websocket"),
        ]),
        .testTarget(name: "GPUCtlCommandsTests", dependencies: [
            "GPUCtlCommands", "GPUCtlTestDaemon", "GPUCtlTestSupport", "GPUCtlRPC", "GPUCtlModels", "ProcessSpawn", "GPUCtlSim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
