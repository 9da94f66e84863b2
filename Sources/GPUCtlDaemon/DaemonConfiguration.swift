import Foundation
import GPUCtlCore
import GPUCtlModels
import Logging

/// Everything the daemon is told at start, as one value with defaults. Parsed once at the edge
/// (flags, then `GPUCTL_*` variables, then defaults); libraries never read the environment.
public struct DaemonConfiguration: Sendable {
    public var socketPath: String
    public var stateDirectory: String
    /// models.json; nil when none was found (the catalog is then empty).
    public var catalogPath: String?
    /// The folder of ComfyUI workflow templates; nil when none was found.
    public var workflowsDirectory: String?
    public var ollamaURL: String = "http://127.0.0.1:11434"
    public var comfyUIURL: String = "http://127.0.0.1:8188"
    /// The card's total when no GPU can be read.
    public var declaredVRAM: ByteSize?
    /// Kept free for the desktop and CUDA contexts.
    public var reserve: ByteSize = .mebibytes(512)
    public var allowGroup: String?
    public var logLevel: Logger.Level = .info
    /// Which card on a multi-GPU machine.
    public var gpuIndex: Int = 0
    /// How often backends are probed, and each probe's deadline.
    public var backendProbeInterval: Duration = .seconds(5)
    public var backendProbeTimeout: Duration = .seconds(2)
    /// How often the GPU is sampled.
    public var gpuSampleInterval: Duration = .seconds(2)
    /// How long calls in flight may finish at shutdown.
    public var shutdownGracePeriod: Duration = .seconds(3)
    /// The NVML library to dlopen.
    public var nvmlPath: String = "libnvidia-ml.so.1"
    /// Whether to look for nvidia-smi (tests turn it off).
    public var useNvidiaSMI = true
    /// Where nvidia-smi is; looked up on PATH when nil (tests name a fake).
    public var nvidiaSMIPath: String?
    /// Connections idle this long (nothing in flight) are closed.
    public var connectionIdleTimeout: Duration = .seconds(300)
    /// How long Ollama may take to send the first byte of an answer (a model load can take minutes).
    public var loadTimeout: Duration = .seconds(300)
    /// Silence allowed between two chunks of an answer, and the limit of a whole answer.
    public var streamIdleTimeout: Duration = .seconds(60)
    public var requestTimeout: Duration = .seconds(1800)
    /// How long a loaded model stays before it may be evicted for another (the swap-rate limit).
    public var minimumResidency: Duration = .seconds(2)
    /// Where each job's outputs are downloaded, one folder per job; default `<state dir>/outputs`.
    public var outputDirectory: String
    /// How long a ComfyUI job may run when it names no timeout of its own.
    public var jobTimeout: Duration = .seconds(3600)
    /// How many times a job is submitted before it fails because ComfyUI keeps losing it.
    public var jobRetryLimit = 3

    /// The job lifecycle's patience, with the retry limit set here.
    var jobLifecycle: JobLifecycle.Settings {
        var settings = JobLifecycle.Settings()
        settings.retryLimit = jobRetryLimit
        return settings
    }
    /// What systemd passed: a listening socket (socket activation), the notify socket, the
    /// watchdog interval. Empty when not started by systemd.
    public var systemd = SystemdEnvironment()
    /// How often the STATUS= line is rebuilt and, when it changed, sent to systemd.
    public var systemdStatusInterval: Duration = .seconds(5)
    /// Where `/metrics` is served over HTTP; nil: only the `metrics` method has them.
    public var metricsListen: ListenAddress?

    public init(socketPath: String, stateDirectory: String, catalogPath: String? = nil, outputDirectory: String? = nil) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.catalogPath = catalogPath
        self.outputDirectory = outputDirectory ?? (stateDirectory as NSString).appendingPathComponent("outputs")
    }
}

/// The daemon's flags as typed, before defaults; each may also come from a `GPUCTL_*` variable.
public struct DaemonFlags: Sendable {
    public var socket: String?
    public var stateDir: String?
    public var config: String?
    public var ollamaURL: String?
    public var comfyUIURL: String?
    public var vram: String?
    public var reserve: String?
    public var allowGroup: String?
    public var logLevel: String?
    public var gpuIndex: String?
    public var loadTimeout: String?
    public var minResidency: String?
    public var workflows: String?
    public var outputDir: String?
    public var jobTimeout: String?
    /// `HOST:PORT` for `/metrics`.
    public var metricsListen: String?
    /// Lets `metricsListen` name an address other than loopback.
    public var metricsAllowRemote = false

    public init(socket: String? = nil, stateDir: String? = nil, config: String? = nil, ollamaURL: String? = nil,
                comfyUIURL: String? = nil, vram: String? = nil, reserve: String? = nil, allowGroup: String? = nil,
                logLevel: String? = nil, gpuIndex: String? = nil, loadTimeout: String? = nil, minResidency: String? = nil,
                workflows: String? = nil, outputDir: String? = nil, jobTimeout: String? = nil) {
        self.workflows = workflows
        self.outputDir = outputDir
        self.jobTimeout = jobTimeout
        self.loadTimeout = loadTimeout
        self.minResidency = minResidency
        self.socket = socket
        self.stateDir = stateDir
        self.config = config
        self.ollamaURL = ollamaURL
        self.comfyUIURL = comfyUIURL
        self.vram = vram
        self.reserve = reserve
        self.allowGroup = allowGroup
        self.logLevel = logLevel
        self.gpuIndex = gpuIndex
    }

    /// Every setting and its environment variable, for the docs and the environment file.
    public static let environmentVariables = [
        "GPUCTL_SOCKET", "GPUCTL_STATE_DIR", "GPUCTL_CONFIG", "GPUCTL_OLLAMA_URL", "GPUCTL_COMFYUI_URL",
        "GPUCTL_VRAM", "GPUCTL_RESERVE", "GPUCTL_ALLOW_GROUP", "GPUCTL_LOG_LEVEL", "GPUCTL_GPU_INDEX",
        "GPUCTL_LOAD_TIMEOUT", "GPUCTL_MIN_RESIDENCY", "GPUCTL_WORKFLOWS", "GPUCTL_OUTPUT_DIR", "GPUCTL_JOB_TIMEOUT",
        "GPUCTL_METRICS_LISTEN", "GPUCTL_METRICS_ALLOW_REMOTE",
    ]
}

/// A setting that cannot be used; the message names the flag, its variable and the fix.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension DaemonConfiguration {
    /// Flags win over the environment, the environment over defaults.
    public static func resolve(flags: DaemonFlags, environment: [String: String],
                               fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
                               isRoot: Bool = getuid() == 0) throws(ConfigurationError) -> DaemonConfiguration {
        func value(_ flag: String?, _ variable: String) -> String? {
            if let flag, !flag.isEmpty { return flag }
            if let env = environment[variable], !env.isEmpty { return env }
            return nil
        }
        let socket = SocketPath.resolve(flag: flags.socket, environment: environment)
        let stateDir = value(flags.stateDir, "GPUCTL_STATE_DIR") ?? defaultStateDirectory(environment, isRoot: isRoot)
        var catalog = value(flags.config, "GPUCTL_CONFIG")
        if let path = catalog, !fileExists(path) {
            throw ConfigurationError("--config / GPUCTL_CONFIG names \(path), which does not exist; create it (see models.json in the repository) or leave the setting out")
        }
        if catalog == nil {
            catalog = ["models.json", "/etc/gpuctl/models.json"].first(where: fileExists)
        }
        var configuration = DaemonConfiguration(socketPath: socket, stateDirectory: stateDir, catalogPath: catalog,
                                                outputDirectory: value(flags.outputDir, "GPUCTL_OUTPUT_DIR"))
        if let path = value(flags.workflows, "GPUCTL_WORKFLOWS") {
            guard fileExists(path) else {
                throw ConfigurationError("--workflows / GPUCTL_WORKFLOWS names \(path), which does not exist; point it at a folder of workflow templates (see Workflows/ in the repository) or leave it out")
            }
            configuration.workflowsDirectory = path
        } else {
            configuration.workflowsDirectory = ["Workflows", "/etc/gpuctl/workflows"].first(where: fileExists)
        }
        if let url = value(flags.ollamaURL, "GPUCTL_OLLAMA_URL") {
            configuration.ollamaURL = try checkURL(url, flag: "--ollama-url", variable: "GPUCTL_OLLAMA_URL")
        }
        if let url = value(flags.comfyUIURL, "GPUCTL_COMFYUI_URL") {
            configuration.comfyUIURL = try checkURL(url, flag: "--comfyui-url", variable: "GPUCTL_COMFYUI_URL")
        }
        if let text = value(flags.vram, "GPUCTL_VRAM") {
            configuration.declaredVRAM = try size(text, flag: "--vram", variable: "GPUCTL_VRAM")
        }
        if let text = value(flags.reserve, "GPUCTL_RESERVE") {
            configuration.reserve = try size(text, flag: "--reserve", variable: "GPUCTL_RESERVE")
        }
        configuration.allowGroup = value(flags.allowGroup, "GPUCTL_ALLOW_GROUP")
        if let text = value(flags.logLevel, "GPUCTL_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError("--log-level / GPUCTL_LOG_LEVEL is '\(text)'; use one of \(levels)")
            }
            configuration.logLevel = level
        }
        if let text = value(flags.gpuIndex, "GPUCTL_GPU_INDEX") {
            guard let index = Int(text), index >= 0 else {
                throw ConfigurationError("--gpu-index / GPUCTL_GPU_INDEX is '\(text)'; use a card number such as 0")
            }
            configuration.gpuIndex = index
        }
        if let text = value(flags.loadTimeout, "GPUCTL_LOAD_TIMEOUT") {
            configuration.loadTimeout = try duration(text, flag: "--load-timeout", variable: "GPUCTL_LOAD_TIMEOUT", minimum: .seconds(1))
        }
        if let text = value(flags.minResidency, "GPUCTL_MIN_RESIDENCY") {
            configuration.minimumResidency = try duration(text, flag: "--min-residency", variable: "GPUCTL_MIN_RESIDENCY", minimum: .zero)
        }
        if let text = value(flags.jobTimeout, "GPUCTL_JOB_TIMEOUT") {
            configuration.jobTimeout = try duration(text, flag: "--job-timeout", variable: "GPUCTL_JOB_TIMEOUT", minimum: .seconds(1))
        }
        if let text = value(flags.metricsListen, "GPUCTL_METRICS_LISTEN") {
            let remote = flags.metricsAllowRemote || ["1", "true", "yes"].contains(environment["GPUCTL_METRICS_ALLOW_REMOTE"]?.lowercased() ?? "")
            configuration.metricsListen = try ListenAddress.parse(text, allowRemote: remote)
        }
        configuration.systemd = SystemdEnvironment(environment: environment)
        return configuration
    }

    /// systemd's StateDirectory=, else the XDG state home, else /var/lib/gpuctl for root.
    static func defaultStateDirectory(_ environment: [String: String], isRoot: Bool) -> String {
        if let systemd = environment["STATE_DIRECTORY"], !systemd.isEmpty {
            return String(systemd.split(separator: ":").first ?? Substring(systemd))
        }
        if isRoot { return "/var/lib/gpuctl" }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return "\(xdg)/gpuctl" }
        if let home = environment["HOME"], !home.isEmpty { return "\(home)/.local/state/gpuctl" }
        return "/var/lib/gpuctl"
    }

    private static func checkURL(_ text: String, flag: String, variable: String) throws(ConfigurationError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw ConfigurationError("\(flag) / \(variable) is '\(text)'; write a URL like http://127.0.0.1:11434")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// A Go-style duration (`90s`, `5m`, `1h30m`), as Ollama's own settings are written.
    private static func duration(_ text: String, flag: String, variable: String,
                                 minimum: Duration) throws(ConfigurationError) -> Duration {
        guard case .seconds(let seconds)? = KeepAlive(parsing: text), text != "0" || minimum == .zero,
              Duration.milliseconds(Int64(seconds * 1000)) >= minimum else {
            throw ConfigurationError("\(flag) / \(variable) is '\(text)'; write a duration like 90s, 5m or 1h30m")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func size(_ text: String, flag: String, variable: String) throws(ConfigurationError) -> ByteSize {
        guard let size = ByteSize(parsing: text) else {
            throw ConfigurationError("\(flag) / \(variable) is '\(text)'; write a size like 24GiB or 512MiB")
        }
        return size
    }
}
