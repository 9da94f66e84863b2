import Foundation
import GPUCtlDaemon
import GPUCtlModels
import Logging
import Testing

@Suite(.timeLimit(.minutes(3))) struct DaemonConfigurationTests {
    func resolve(_ flags: DaemonFlags, _ environment: [String: String] = [:], files: Set<String> = [],
                 root: Bool = false) throws(ConfigurationError) -> DaemonConfiguration {
        try DaemonConfiguration.resolve(flags: flags, environment: environment, fileExists: { files.contains($0) }, isRoot: root)
    }

    @Test func defaults() throws {
        let configuration = try resolve(DaemonFlags(), ["HOME": "/home/ada"])
        #expect(configuration.socketPath == "/run/gpuctl/gpuctld.sock")
        #expect(configuration.stateDirectory == "/home/ada/.local/state/gpuctl")
        #expect(configuration.catalogPath == nil)
        #expect(configuration.ollamaURL == "http://127.0.0.1:11434" && configuration.comfyUIURL == "http://127.0.0.1:8188")
        #expect(configuration.reserve == .mebibytes(512) && configuration.declaredVRAM == nil)
        #expect(configuration.logLevel == .info && configuration.gpuIndex == 0)
        #expect(try resolve(DaemonFlags(), [:], root: true).stateDirectory == "/var/lib/gpuctl")
        #expect(try resolve(DaemonFlags(), ["STATE_DIRECTORY": "/var/lib/gpuctl"]).stateDirectory == "/var/lib/gpuctl")
    }

    @Test func flagsWinOverEnvironment() throws {
        let environment = [
            "GPUCTL_SOCKET": "/env.sock", "GPUCTL_STATE_DIR": "/env-state", "GPUCTL_VRAM": "12GiB",
            "GPUCTL_RESERVE": "1GiB", "GPUCTL_OLLAMA_URL": "http://10.0.0.2:11434/", "GPUCTL_LOG_LEVEL": "DEBUG",
            "GPUCTL_ALLOW_GROUP": "video", "GPUCTL_GPU_INDEX": "1", "GPUCTL_COMFYUI_URL": "http://localhost:8188",
            "GPUCTL_LOAD_TIMEOUT": "10m", "GPUCTL_MIN_RESIDENCY": "500ms",
        ]
        let fromEnvironment = try resolve(DaemonFlags(), environment)
        #expect(fromEnvironment.socketPath == "/env.sock" && fromEnvironment.stateDirectory == "/env-state")
        #expect(fromEnvironment.declaredVRAM == .gibibytes(12) && fromEnvironment.reserve == .gibibytes(1))
        #expect(fromEnvironment.ollamaURL == "http://10.0.0.2:11434" && fromEnvironment.logLevel == .debug)
        #expect(fromEnvironment.allowGroup == "video" && fromEnvironment.gpuIndex == 1)
        #expect(fromEnvironment.loadTimeout == .seconds(600) && fromEnvironment.minimumResidency == .milliseconds(500))
        let fromFlags = try resolve(DaemonFlags(socket: "/flag.sock", stateDir: "/flag-state", vram: "24GiB"), environment)
        #expect(fromFlags.socketPath == "/flag.sock" && fromFlags.stateDirectory == "/flag-state")
        #expect(fromFlags.declaredVRAM == .gibibytes(24))
    }

    @Test func catalogLookup() throws {
        #expect(try resolve(DaemonFlags(), files: ["/etc/gpuctl/models.json"]).catalogPath == "/etc/gpuctl/models.json")
        #expect(try resolve(DaemonFlags(), files: ["models.json", "/etc/gpuctl/models.json"]).catalogPath == "models.json")
        #expect {
            _ = try resolve(DaemonFlags(config: "/missing.json"))
        } throws: { error in
            (error as? ConfigurationError)?.message.hasPrefix("--config / GPUCTL_CONFIG names /missing.json, which does not exist") == true
        }
    }

    @Test func workflowsFolderLookup() throws {
        #expect(try resolve(DaemonFlags()).workflowsDirectory == nil)
        #expect(try resolve(DaemonFlags(), files: ["Workflows", "/etc/gpuctl/workflows"]).workflowsDirectory == "Workflows")
        #expect(try resolve(DaemonFlags(), ["GPUCTL_WORKFLOWS": "/srv/wf"], files: ["/srv/wf", "Workflows"]).workflowsDirectory == "/srv/wf")
        #expect {
            _ = try resolve(DaemonFlags(workflows: "/missing"))
        } throws: { error in
            (error as? ConfigurationError)?.message.hasPrefix("--workflows / GPUCTL_WORKFLOWS names /missing, which does not exist") == true
        }
    }

    @Test func badValuesNameTheSetting() {
        func message(_ flags: DaemonFlags) -> String? {
            do {
                _ = try resolve(flags)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message(DaemonFlags(vram: "lots")) == "--vram / GPUCTL_VRAM is 'lots'; write a size like 24GiB or 512MiB")
        #expect(message(DaemonFlags(reserve: "-1")) == "--reserve / GPUCTL_RESERVE is '-1'; write a size like 24GiB or 512MiB")
        #expect(message(DaemonFlags(ollamaURL: "localhost:11434")) == "--ollama-url / GPUCTL_OLLAMA_URL is 'localhost:11434'; write a URL like http://127.0.0.1:11434")
        #expect(message(DaemonFlags(logLevel: "loud"))?.hasPrefix("--log-level / GPUCTL_LOG_LEVEL is 'loud'; use one of trace") == true)
        #expect(message(DaemonFlags(gpuIndex: "-2")) == "--gpu-index / GPUCTL_GPU_INDEX is '-2'; use a card number such as 0")
        #expect(message(DaemonFlags(loadTimeout: "300")) == "--load-timeout / GPUCTL_LOAD_TIMEOUT is '300'; write a duration like 90s, 5m or 1h30m")
        #expect(message(DaemonFlags(loadTimeout: "0")) != nil)
        #expect(message(DaemonFlags(minResidency: "-1m")) != nil)
        #expect(message(DaemonFlags(minResidency: "0")) == nil)
    }
}

@Suite(.timeLimit(.minutes(3))) struct SettingsDocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The environment file example and the README name every GPUCTL_* setting the daemon reads.
    @Test func everySettingIsDocumented() throws {
        let example = try String(contentsOf: Self.root.appendingPathComponent("systemd/gpuctld.env.example"), encoding: .utf8)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        for variable in DaemonFlags.environmentVariables {
            #expect(example.contains("#\(variable)="), "gpuctld.env.example lacks \(variable)")
            #expect(readme.contains("`\(variable)`"), "README lacks \(variable)")
        }
        // The table is the settings' declaration, rendered: README shows it as it is.
        #expect(readme.contains(DaemonSetting.markdownTable), "README's settings table should read:\n\(DaemonSetting.markdownTable)")
    }

    @Test func gpuctldReadsItsFlagsFromTheTable() throws {
        let flags = try DaemonFlags(arguments: ["--socket", "/s.sock", "--vram=24GiB", "--metrics-allow-remote", "--log-level", "debug"])
        #expect(flags[.socket] == "/s.sock" && flags[.vram] == "24GiB" && flags[.metricsAllowRemote] == "1" && flags[.logLevel] == "debug")
        #expect(try flags == DaemonFlags(arguments: ["--socket=/s.sock", "--vram", "24GiB", "--metrics-allow-remote", "--log-level=debug"]))
        #expect(throws: ConfigurationError("there is no option --state-dri; did you mean --state-dir?")) {
            try DaemonFlags(arguments: ["--state-dri", "/x"])
        }
        #expect(throws: ConfigurationError("--vram needs a value (SIZE)")) { try DaemonFlags(arguments: ["--vram"]) }
        #expect(throws: ConfigurationError("--metrics-allow-remote is a switch and takes no value")) {
            try DaemonFlags(arguments: ["--metrics-allow-remote=yes"])
        }
        #expect(throws: ConfigurationError("'serve' is not an option; every setting is a --flag (see gpuctld --help)")) {
            try DaemonFlags(arguments: ["serve"])
        }
        // The switch from the environment, as before.
        let configuration = try DaemonConfiguration.resolve(flags: DaemonFlags(arguments: ["--metrics-listen", "0.0.0.0:9464"]),
                                                            environment: ["GPUCTL_METRICS_ALLOW_REMOTE": "1", "HOME": "/h"],
                                                            fileExists: { _ in false }, isRoot: false)
        #expect(configuration.metricsListen != nil)
    }
}
