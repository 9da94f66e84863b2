import Foundation
import GPUCtlDaemon
import GPUCtlTestSupport
import GPUCtlRPC
import Logging

/// The real daemon, started in-process on a temporary socket and store, pointed at the fakes.
public final class TestDaemon: Sendable {
    public let directory: TemporaryDirectory
    public let daemon: Daemon
    private let runTask: Task<Void, Error>

    public var socketPath: String { daemon.configuration.socketPath }

    private init(directory: TemporaryDirectory, daemon: Daemon, runTask: Task<Void, Error>) {
        self.directory = directory
        self.daemon = daemon
        self.runTask = runTask
    }

    /// Starts a daemon with a declared 24 GiB card, no NVML or nvidia-smi, fast probes, and
    /// whatever `configure` changes.
    public static func start(ollamaURL: String = "http://127.0.0.1:1", comfyUIURL: String = "http://127.0.0.1:1",
                             configure: (inout DaemonConfiguration) -> Void = { _ in }) async throws -> TestDaemon {
        let directory = try TemporaryDirectory()
        var configuration = DaemonConfiguration(socketPath: directory.file("gpuctld.sock"),
                                                stateDirectory: directory.file("state"))
        configuration.ollamaURL = ollamaURL
        configuration.comfyUIURL = comfyUIURL
        configuration.declaredVRAM = .gibibytes(24)
        configuration.nvmlPath = "/nonexistent/libnvidia-ml.so.1"
        configuration.useNvidiaSMI = false
        configuration.backendProbeInterval = .milliseconds(50)
        // Generous: on a loaded CI machine the fakes can take a second to answer; a refused
        // connection is still reported at once.
        configuration.backendProbeTimeout = .seconds(5)
        configuration.minimumResidency = .milliseconds(100)
        configure(&configuration)
        var logger = Logger(label: "test-gpuctld")
        // GPUCTL_TEST_LOG=debug shows a daemon's log on stderr when a test needs explaining.
        logger.logLevel = ProcessInfo.processInfo.environment["GPUCTL_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let daemon = try await Daemon.start(configuration: configuration, handleSignals: false, logger: logger)
        let task = Task { try await daemon.run() }
        return TestDaemon(directory: directory, daemon: daemon, runTask: task)
    }

    /// A new client connection.
    public func client(timeout: Duration = .seconds(10)) throws -> RPCClient {
        try RPCClient(socketPath: socketPath, timeout: timeout)
    }

    /// Shuts down as SIGTERM would and waits for it.
    public func stop() async throws {
        await daemon.shutdown()
        try await runTask.value
        directory.remove()
    }
}


