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
        discussion: """
        Every option can also be set with the GPUCTL_* variable named beside it; a flag wins over the variable.

        OPTIONS:
        \(DaemonSetting.helpText)
        """)

    /// Read by DaemonFlags from the one table of settings (DaemonSetting), not declared here.
    @Argument(parsing: .allUnrecognized, help: .hidden) var settings: [String] = []

    func run() async throws {
        let stopSignals = StopSignals()
        let flags: DaemonFlags
        do {
            flags = try DaemonFlags(arguments: settings)
        } catch {
            FileHandle.standardError.write(Data("gpuctld: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
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

