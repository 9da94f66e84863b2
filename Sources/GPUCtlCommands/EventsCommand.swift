import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl events [--type T] [--json]`: follows the daemon's state changes until Ctrl-C.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Follow the daemon's events (models, jobs, budget, backends) as they happen.",
        discussion: "Runs until Ctrl-C or until the daemon stops. With --json, each event is one JSON line, as events.subscribe streams it (docs/rpc.md).")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("type"), help: ArgumentHelp(
        "Only these events (repeatable): model, job, budget, backend, or one type such as job.state.",
        valueName: "type"))
    var types: [String] = []

    func run() throws {
        Interrupt.exitOnCtrlC()
        // A subscription is quiet for as long as nothing happens: no deadline unless given.
        let client = try global.connect(waitSeconds: 365 * 86_400)
        let json = global.json
        let params = EventsSubscribeParams(types: types).json
        _ = try CLIExit.run { () throws(RPCClientError) in
            try client.callRaw(RPCMethod.eventsSubscribe.rawValue, params: params) { data in
                if json { return Output.printJSON(data) }
                guard let event = try? JSONDecoder().decode(DaemonEvent.self, from: data) else { return }
                Output.print(EventsRenderer.line(event))
            }
        }
    }
}

/// `gpuctl metrics`: the Prometheus text, as `/metrics` serves it.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the daemon's metrics in Prometheus' text format.",
        discussion: "The same text gpuctld serves at /metrics when started with --metrics-listen 127.0.0.1:PORT.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.show(.metrics, as: MetricsResult.self) { $0.text }
    }
}
