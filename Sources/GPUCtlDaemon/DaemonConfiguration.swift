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
    /// The text-to-speech server; nil: none.
    public var ttsURL: String?
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
    /// The most text kept of one Ollama answer for its result (more fails the call).
    public var maximumAnswerBytes = 32 << 20
    /// How long ComfyUI may take to give its memory back after `/free`.
    public var freeTimeout: Duration = .seconds(30)
    /// How long a pipeline step waits for an unreachable backend before its run fails.
    public var backendWait: Duration = .seconds(300)
    /// Charged above a job's catalog estimate until its workflow's peak is learned (JobCharge).
    public var jobHeadroom = ByteSize(bytes: JobCharge.defaultHeadroom)
    /// Silence allowed between two chunks of an answer, and the limit of a whole answer.
    public var streamIdleTimeout: Duration = .seconds(60)
    public var requestTimeout: Duration = .seconds(1800)
    /// How long a loaded model stays before it may be evicted for another (the swap-rate limit).
    public var minimumResidency: Duration = .seconds(2)
    /// Where each job's outputs are downloaded, one folder per job; default `<state dir>/outputs`.
    public var outputDirectory: String
    /// How long a ComfyUI job may run when it names no timeout of its own.
    public var jobTimeout: Duration = .seconds(3600)
    /// Finished jobs kept in the store; older ones are forgotten (their files stay).
    public var keepJobs = 10_000
    /// How often the store forgets finished jobs past `keepJobs`.
    public var storeTidyInterval: Duration = .seconds(60)
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
    /// Where the Ollama-compatible door is served; nil: no door.
    public var ollamaListen: ListenAddress?
    /// How long a request through the door may wait for the Scheduler before a 503.
    public var ollamaQueueTimeout: Duration = .seconds(300)
    /// Where the ComfyUI door is served; nil: no door.
    public var comfyUIListen: ListenAddress?

    public init(socketPath: String, stateDirectory: String, catalogPath: String? = nil, outputDirectory: String? = nil) {
        self.socketPath = socketPath
        self.stateDirectory = stateDirectory
        self.catalogPath = catalogPath
        self.outputDirectory = outputDirectory ?? (stateDirectory as NSString).appendingPathComponent("outputs")
    }
}

/// The daemon's settings as given on the command line, before the environment and defaults.
public struct DaemonFlags: Sendable, Equatable {
    /// Each given setting's text (a switch that is on: "1").
    public var values: [DaemonSetting: String] = [:]

    public init(socket: String? = nil, stateDir: String? = nil, config: String? = nil, ollamaURL: String? = nil,
                comfyUIURL: String? = nil, vram: String? = nil, reserve: String? = nil, allowGroup: String? = nil,
                logLevel: String? = nil, gpuIndex: String? = nil, loadTimeout: String? = nil, minResidency: String? = nil,
                workflows: String? = nil, outputDir: String? = nil, jobTimeout: String? = nil) {
        let given: [(DaemonSetting, String?)] = [
            (.socket, socket), (.stateDir, stateDir), (.config, config), (.ollamaURL, ollamaURL), (.comfyUIURL, comfyUIURL),
            (.vram, vram), (.reserve, reserve), (.allowGroup, allowGroup), (.logLevel, logLevel), (.gpuIndex, gpuIndex),
            (.loadTimeout, loadTimeout), (.minResidency, minResidency), (.workflows, workflows), (.outputDir, outputDir),
            (.jobTimeout, jobTimeout),
        ]
        for case (let setting, let value?) in given { values[setting] = value }
    }

    public subscript(setting: DaemonSetting) -> String? {
        get { values[setting] }
        set { values[setting] = newValue }
    }

    /// Reads gpuctld's arguments: `--flag VALUE`, `--flag=VALUE`, and switches. A flag it does
    /// not know is refused with the nearest one it does.
    public init(arguments: [String]) throws(ConfigurationError) {
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else {
                throw ConfigurationError("'\(argument)' is not an option; every setting is a --flag (see gpuctld --help)")
            }
            let parts = argument.dropFirst(2).split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts.first ?? ""
            guard let setting = DaemonSetting.allCases.first(where: { $0.flag == name }) else {
                let hint = Suggestion.closest(to: name, in: DaemonSetting.allCases.map(\.flag)).map { "; did you mean --\($0)?" } ?? "; see gpuctld --help"
                throw ConfigurationError("there is no option --\(name)\(hint)")
            }
            if setting.valueName == nil {
                guard parts.count == 1 else { throw ConfigurationError("--\(setting.flag) is a switch and takes no value") }
                values[setting] = "1"
            } else if parts.count == 2 {
                values[setting] = parts[1]
            } else if let value = rest.popFirst(), !value.hasPrefix("--") {
                values[setting] = value
            } else {
                throw ConfigurationError("--\(setting.flag) needs a value (\(setting.valueName!))")
            }
        }
    }

    /// Every setting's environment variable, for the docs and the environment file.
    public static var environmentVariables: [String] { DaemonSetting.allCases.map(\.variable) }
}

/// A setting that cannot be used; the message names the flag, its variable and the fix.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension DaemonConfiguration {
    /// Flags win over the environment, the environment over defaults.
    public static func resolve(flags: DaemonFlags, environment: [String: String],
                               fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
                               isRoot: Bool = getuid() == 0) throws(ConfigurationError) -> DaemonConfiguration {
        func value(_ setting: DaemonSetting) -> String? {
            if let flag = flags[setting], !flag.isEmpty { return flag }
            if let env = environment[setting.variable], !env.isEmpty { return env }
            return nil
        }
        let socket = SocketPath.resolve(flag: flags[.socket], environment: environment)
        let stateDir = value(.stateDir) ?? defaultStateDirectory(environment, isRoot: isRoot)
        var catalog = value(.config)
        if let path = catalog, !fileExists(path) {
            throw ConfigurationError("\(DaemonSetting.config.label) names \(path), which does not exist; create it (see models.json in the repository) or leave the setting out")
        }
        if catalog == nil {
            catalog = ["models.json", "/etc/gpuctl/models.json"].first(where: fileExists)
        }
        var configuration = DaemonConfiguration(socketPath: socket, stateDirectory: stateDir, catalogPath: catalog,
                                                outputDirectory: value(.outputDir))
        if let path = value(.workflows) {
            guard fileExists(path) else {
                throw ConfigurationError("\(DaemonSetting.workflows.label) names \(path), which does not exist; point it at a folder of workflow templates (see Workflows/ in the repository) or leave it out")
            }
            configuration.workflowsDirectory = path
        } else {
            configuration.workflowsDirectory = ["Workflows", "/etc/gpuctl/workflows"].first(where: fileExists)
        }
        if let url = value(.ollamaURL) {
            configuration.ollamaURL = try checkURL(url, .ollamaURL)
        }
        if let url = value(.ttsURL), !url.isEmpty {
            configuration.ttsURL = try checkURL(url, .ttsURL)
        }
        if let url = value(.comfyUIURL) {
            configuration.comfyUIURL = try checkURL(url, .comfyUIURL)
        }
        if let text = value(.vram) {
            configuration.declaredVRAM = try size(text, .vram)
        }
        if let text = value(.reserve) {
            configuration.reserve = try size(text, .reserve)
        }
        if let text = value(.jobHeadroom) {
            configuration.jobHeadroom = try size(text, .jobHeadroom)
        }
        configuration.allowGroup = value(.allowGroup)
        if let text = value(.logLevel) {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError("\(DaemonSetting.logLevel.label) is '\(text)'; use one of \(levels)")
            }
            configuration.logLevel = level
        }
        if let text = value(.gpuIndex) {
            guard let index = Int(text), index >= 0 else {
                throw ConfigurationError("\(DaemonSetting.gpuIndex.label) is '\(text)'; use a card number such as 0")
            }
            configuration.gpuIndex = index
        }
        if let text = value(.loadTimeout) {
            configuration.loadTimeout = try duration(text, .loadTimeout, minimum: .seconds(1))
        }
        if let text = value(.freeTimeout) {
            configuration.freeTimeout = try duration(text, .freeTimeout, minimum: .zero)
        }
        if let text = value(.backendWait) {
            configuration.backendWait = try duration(text, .backendWait, minimum: .zero)
        }
        if let text = value(.minResidency) {
            configuration.minimumResidency = try duration(text, .minResidency, minimum: .zero)
        }
        if let text = value(.keepJobs) {
            guard let count = Int(text), count >= 0 else {
                throw ConfigurationError("\(DaemonSetting.keepJobs.label) is '\(text)'; use a number of jobs such as 10000")
            }
            configuration.keepJobs = count
        }
        if let text = value(.jobTimeout) {
            configuration.jobTimeout = try duration(text, .jobTimeout, minimum: .seconds(1))
        }
        if let text = value(.metricsListen) {
            let remote = ["1", "true", "yes"].contains(value(.metricsAllowRemote)?.lowercased() ?? "")
            configuration.metricsListen = try ListenAddress.parse(text, allowRemote: remote)
        }
        if let text = value(.ollamaListen) {
            let remote = ["1", "true", "yes"].contains(value(.ollamaAllowRemote)?.lowercased() ?? "")
            configuration.ollamaListen = try ListenAddress.parse(text, allowRemote: remote, setting: .ollamaListen,
                                                                 remoteSetting: .ollamaAllowRemote, example: 11435)
        }
        if let text = value(.comfyUIListen) {
            let remote = ["1", "true", "yes"].contains(value(.comfyUIAllowRemote)?.lowercased() ?? "")
            configuration.comfyUIListen = try ListenAddress.parse(text, allowRemote: remote, setting: .comfyUIListen,
                                                                  remoteSetting: .comfyUIAllowRemote, example: 8189)
        }
        if let text = value(.ollamaQueueTimeout) {
            configuration.ollamaQueueTimeout = try duration(text, .ollamaQueueTimeout, minimum: .seconds(1))
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

    private static func checkURL(_ text: String, _ setting: DaemonSetting) throws(ConfigurationError) -> String {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host != nil else {
            throw ConfigurationError("\(setting.label) is '\(text)'; write a URL like http://127.0.0.1:11434")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// A Go-style duration (`90s`, `5m`, `1h30m`), as Ollama's own settings are written.
    private static func duration(_ text: String, _ setting: DaemonSetting,
                                 minimum: Duration) throws(ConfigurationError) -> Duration {
        guard case .seconds(let seconds)? = KeepAlive(parsing: text), text != "0" || minimum == .zero, seconds < 1e9,
              Duration.milliseconds(Int64(seconds * 1000)) >= minimum else {
            throw ConfigurationError("\(setting.label) is '\(text)'; write a duration like 90s, 5m or 1h30m")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func size(_ text: String, _ setting: DaemonSetting) throws(ConfigurationError) -> ByteSize {
        guard let size = ByteSize(parsing: text) else {
            throw ConfigurationError("\(setting.label) is '\(text)'; write a size like 24GiB or 512MiB")
        }
        return size
    }
}
