import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl ps`: what is resident, and with `--all` every model gpuctld knows.
struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "Show the resident models and the budget.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List every catalog model, not only resident ones.") var all = false

    func run() throws {
        try global.show(.modelsList, as: ModelsListResult.self) { ModelsRenderer.render($0, all: all) }
    }
}

/// `gpuctl swap MODEL`: make exactly this model resident.
struct SwapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swap", abstract: "Make exactly MODEL resident, unloading the others (pinned ones stay).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A model name or alias.") var model: String
    @Flag(help: "Unload only what must go for MODEL to fit.") var keep = false

    func run() throws {
        try ModelChange.run(.modelsSwap, params: ModelSwapParams(model: model, keep: keep), model: model, global: global)
    }
}

/// `gpuctl load MODEL`: load it (evicting idle models as needed).
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load MODEL, evicting idle models if needed.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A model name or alias.") var model: String
    @Option(name: .customLong("keep-alive"), help: "How long Ollama keeps it after its last request, e.g. 30m, 1h, -1m for forever.")
    var keepAlive: String?

    func run() throws {
        var params = ModelLoadParams(model: model)
        if let keepAlive {
            do {
                params.keepAlive = try ModelLoadParams.keepAlive(parsing: keepAlive)
            } catch {
                throw CLIExit.fail(.remote(error))
            }
        }
        try ModelChange.run(.modelsLoad, params: params, model: model, global: global)
    }
}

/// `gpuctl unload MODEL` or `gpuctl unload --all`.
struct UnloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unload", abstract: "Unload MODEL, or every model with --all.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A model name or alias.") var model: String?
    @Flag(help: "Unload every resident model.") var all = false

    func validate() throws {
        guard (model == nil) == all else { throw ValidationError("give a MODEL or --all (not both)") }
    }

    func run() throws {
        let client = try global.connect(slow: true)
        let params = all ? ModelUnloadParams.everything : ModelUnloadParams(model: model!)
        let raw = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.modelsUnload.rawValue, params: params.json) }
        if global.json { return Output.printJSON(raw) }
        guard let results = try? JSONDecoder().decode([ModelChangeResult].self, from: raw) else {
            throw CLIExit.fail(.protocolError("the models.unload result does not match this client"))
        }
        if results.isEmpty { Output.print("nothing was resident") }
        for result in results {
            Output.print(result.outcome == "unloaded" ? "unloaded \(result.model)" : "\(result.model) was not resident")
        }
    }
}

/// The shared part of load and swap: progress while it loads, then one line.
enum ModelChange {
    static func run(_ method: RPCMethod, params: some RPCParams, model: String, global: GlobalOptions) throws {
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let progress = global.json ? nil : LoadProgress.start(for: model, socketPath: client.socketPath)
        defer { progress?.stop() }
        let raw = try CLIExit.run { () throws(RPCClientError) in
            defer { progress?.stop() }
            return try client.callRaw(method.rawValue, params: params.json)
        }
        if global.json { return Output.printJSON(raw) }
        guard let result = try? JSONDecoder().decode(ModelChangeResult.self, from: raw) else {
            throw CLIExit.fail(.protocolError("the \(method.rawValue) result does not match this client"))
        }
        Output.print(describe(result))
    }

    static func describe(_ result: ModelChangeResult) -> String {
        var line = result.outcome == "loaded"
            ? "loaded \(result.model)" + (result.loadMs.map { " in \(ModelsRenderer.duration(ms: $0))" } ?? "")
            : "\(result.model) was already resident"
        if result.fallbackUsed, let requested = result.requestedModel { line += " (fallback for \(requested))" }
        if !result.unloaded.isEmpty { line += "; unloaded \(result.unloaded.joined(separator: ", "))" }
        if !result.kept.isEmpty { line += "; kept \(result.kept.joined(separator: ", ")) (pinned)" }
        return line
    }
}
