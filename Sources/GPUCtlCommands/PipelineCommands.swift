import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl pipelines`: the pipeline definitions the daemon can run.
struct PipelinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipelines", abstract: "List the pipelines (Workflows/pipelines/): their inputs and steps, and the broken ones skipped.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.show(.pipelinesList, as: PipelinesListResult.self, render: PipelineRenderer.list)
    }
}

/// `gpuctl pipeline run NAME --set key=value ... [--wait]`.
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline", abstract: "Run a pipeline: LLM, ComfyUI and embedding steps as one durable job.",
        subcommands: [Run.self], defaultSubcommand: Run.self)

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Queue a pipeline run; with --wait, follow its steps and print its result.",
            discussion: "Values are checked against the pipeline's inputs (gpuctl pipelines) before anything is queued. The run survives a restart of the daemon and goes on from its first unfinished step. Ctrl-C while waiting stops the waiting, not the run (gpuctl cancel ID does).")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "A pipeline name (gpuctl pipelines lists them).") var pipeline: String
        @Option(name: .customLong("set"), help: "An input as key=value (repeatable).") var values: [String] = []
        @Flag(help: "Wait for the run, a line per step, then print its result.") var wait = false
        @Flag(help: "Run its steps as interactive work (pipelines are batch work by default).") var interactive = false

        func run() throws {
            var params = PipelineRunParams(pipeline: pipeline, inputs: try KeyValues.parse(values, option: "--set"))
            if interactive { params.requestClass = .interactive }
            let client = try global.connect()
            let submitted = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.pipelineRun.rawValue, params: params.json) }
            let job = try JSONDecoder().decode(JobInfo.self, from: submitted)
            guard wait else {
                if global.json { return Output.printJSON(submitted) }
                return Output.print("pipeline run \(job.id) queued (gpuctl job \(job.id) shows it)")
            }
            try JobWaiter(global: global).wait(job.id)
        }
    }
}

/// `key=value` arguments as a dictionary of strings (the daemon reads numbers from text).
enum KeyValues {
    static func parse(_ pairs: [String], option: String) throws -> [String: JSONValue] {
        var values: [String: JSONValue] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("\(option) takes key=value, not '\(pair)'") }
            values[parts[0]] = .string(parts[1])
        }
        return values
    }
}
