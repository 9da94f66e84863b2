import ArgumentParser
import Foundation
import GPUCtlDaemon
import Logging

/// gpuctld: flags → configuration → ServiceGroup.
@main
struct GPUCtlDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpuctld",
        abstract: "The gpuctl daemon: decides who holds VRAM between Ollama and ComfyUI.",
        discussion: "Every option can also be set with the GPUCTL_* variable named beside it; a flag wins over the variable.")

    @Option(help: "Unix socket to serve (GPUCTL_SOCKET; default $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock or /run/gpuctl/gpuctld.sock).")
    var socket: String?
    @Option(name: .customLong("state-dir"), help: "Directory for the SQLite store (GPUCTL_STATE_DIR).")
    var stateDir: String?
    @Option(help: "The model catalog (GPUCTL_CONFIG; default ./models.json, then /etc/gpuctl/models.json).")
    var config: String?
    @Option(name: .customLong("ollama-url"), help: "Ollama's address (GPUCTL_OLLAMA_URL; default http://127.0.0.1:11434).")
    var ollamaURL: String?
    @Option(name: .customLong("comfyui-url"), help: "ComfyUI's address (GPUCTL_COMFYUI_URL; default http://127.0.0.1:8188).")
    var comfyUIURL: String?
    @Option(help: "The card's total VRAM when no GPU can be read, e.g. 24GiB (GPUCTL_VRAM).")
    var vram: String?
    @Option(help: "VRAM kept free for the desktop and CUDA contexts (GPUCTL_RESERVE; default 512MiB).")
    var reserve: String?
    @Option(name: .customLong("allow-group"), help: "A group whose members may use the socket (GPUCTL_ALLOW_GROUP).")
    var allowGroup: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (GPUCTL_LOG_LEVEL; default info).")
    var logLevel: String?
    @Option(name: .customLong("gpu-index"), help: "Which card to manage on a multi-GPU machine (GPUCTL_GPU_INDEX; default 0).")
    var gpuIndex: String?
    @Option(name: .customLong("load-timeout"), help: "How long Ollama may take to start answering, model load included, e.g. 5m (GPUCTL_LOAD_TIMEOUT; default 5m).")
    var loadTimeout: String?
    @Option(name: .customLong("min-residency"), help: "How long a loaded model stays before another request may evict it, e.g. 2s (GPUCTL_MIN_RESIDENCY; default 2s).")
    var minResidency: String?
    @Option(help: "The folder of ComfyUI workflow templates (GPUCTL_WORKFLOWS; default ./Workflows, then /etc/gpuctl/workflows).")
    var workflows: String?
    @Option(help: "Where job outputs are saved, one folder per job (GPUCTL_OUTPUT_DIR; default STATE_DIR/outputs).")
    var outputDir: String?
    @Option(help: "How long a ComfyUI job may run unless it sets its own timeout, e.g. 30m (GPUCTL_JOB_TIMEOUT; default 1h).")
    var jobTimeout: String?
    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus metrics over HTTP at HOST:PORT/metrics, e.g. 127.0.0.1:9464; loopback only unless --metrics-allow-remote (GPUCTL_METRICS_LISTEN).")
    var metricsListen: String?
    @Flag(name: .customLong("metrics-allow-remote"), help: "Let --metrics-listen name an address other than loopback (GPUCTL_METRICS_ALLOW_REMOTE=1).")
    var metricsAllowRemote = false

    func run() async throws {
        let stopSignals = StopSignals()
        var flags = DaemonFlags(socket: socket, stateDir: stateDir, config: config, ollamaURL: ollamaURL,
                                comfyUIURL: comfyUIURL, vram: vram, reserve: reserve, allowGroup: allowGroup,
                                logLevel: logLevel, gpuIndex: gpuIndex, loadTimeout: loadTimeout,
                                minResidency: minResidency, workflows: workflows,
                                outputDir: outputDir, jobTimeout: jobTimeout)
        flags.metricsListen = metricsListen
        flags.metricsAllowRemote = metricsAllowRemote
        let configuration: DaemonConfiguration
        do {
            configuration = try DaemonConfiguration.resolve(flags: flags, environment: ProcessInfo.processInfo.environment)
            SystemdEnvironment.forgetListenVariables()
        } catch {
            FileHandle.standardError.write(Data("gpuctld: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "gpuctld")
        let daemon: Daemon
        do {
            daemon = try await Daemon.start(configuration: configuration, handleSignals: false, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("gpuctld: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        logger.info("gpuctld ready", metadata: [
            "rpc.socket": "\(configuration.socketPath)", "store.dir": "\(configuration.stateDirectory)",
            "catalog.path": "\(configuration.catalogPath ?? "none")",
        ])
        // Also a stop that arrived while starting: the stream keeps it until read here.
        let stopper = Task {
            for await signal in stopSignals.requests {
                logger.info("stopping on signal \(signal)")
                await daemon.shutdown()
            }
        }
        defer { stopper.cancel() }
        do {
            try await daemon.run()
        } catch {
            throw ExitCode(1)
        }
    }
}

