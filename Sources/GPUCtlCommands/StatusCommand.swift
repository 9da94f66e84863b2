import ArgumentParser
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl status`: the card, the budget, the backends, the catalog and the jobs.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the GPU, its budget, the backends and the jobs.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.show(.status, as: StatusResult.self) { StatusRenderer.render($0, color: Output.useColor) }
    }
}

/// `gpuctl ping`: is the daemon there, and how fast does it answer?
struct PingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "Check that the daemon answers.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let client = try global.connect()
        let started = ContinuousClock.now
        let raw = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.ping.rawValue) }
        let elapsed = ContinuousClock.now - started
        if global.json {
            Output.printJSON(raw)
        } else {
            let micros = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
            Output.print("pong from gpuctld on \(client.socketPath) in \(Self.format(micros))")
        }
    }

    static func format(_ micros: Double) -> String {
        micros < 1000 ? "\(Int(micros.rounded())) µs" : "\((micros / 10).rounded() / 100) ms"
    }
}

/// `gpuctl version`: this CLI's version and the daemon's.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the CLI's and the daemon's versions.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let client: RPCClient
        do {
            client = try global.connect()
        } catch {
            // The CLI's own version is still worth printing when the daemon is away.
            if !global.json { Output.print("gpuctl  \(GPUCtlVersion.current)") }
            throw error
        }
        if global.json {
            Output.printJSON(try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.version.rawValue) })
            return
        }
        let version = try CLIExit.run { () throws(RPCClientError) in try client.call(.version, as: VersionResult.self) }
        Output.print("gpuctl  \(GPUCtlVersion.current)\n\(version.name) \(version.version) (protocol \(version.protocol))")
        if version.protocol != GPUCtlVersion.protocolRevision {
            Output.print("warning: this CLI speaks protocol \(GPUCtlVersion.protocolRevision); upgrade the older of the two")
        }
    }
}
