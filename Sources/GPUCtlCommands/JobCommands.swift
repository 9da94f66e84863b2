import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl run WORKFLOW --set key=value ... [--wait]`: queues a ComfyUI job.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Queue a ComfyUI workflow as a job; with --wait, follow it and print its output files.",
        discussion: "Values are checked against the workflow's parameters (gpuctl workflows) before anything is queued. An image parameter may name a file here: it is uploaded to ComfyUI. Ctrl-C while waiting stops the waiting, not the job (gpuctl cancel ID does).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A workflow name (gpuctl workflows lists them).") var workflow: String
    @Option(name: .customLong("set"), help: "A parameter as key=value (repeatable).") var values: [String] = []
    @Flag(help: "Wait for the job, showing progress, then print its output files.") var wait = false
    @Flag(help: "Queue as batch work (interactive jobs go first).") var batch = false
    @Option(name: .customLong("job-timeout"), help: "Seconds the job may run before it is interrupted (default: the daemon's).")
    var jobTimeout: Double?

    func run() throws {
        var parameters = try KeyValues.parse(values, option: "--set")
        let client = try global.connect()
        // An image parameter that names a file here is sent as its bytes; the daemon uploads them.
        let images = Self.imageParameters(of: workflow, client: client)
        for (key, value) in parameters where images.contains(key) {
            guard let path = value.stringValue, path.contains("/") || FileManager.default.fileExists(atPath: path) else { continue }
            do {
                parameters[key] = try ImageFile.value(path: path)
            } catch {
                throw ValidationError("--set \(key)=\(path): \(error)")
            }
        }
        var params = SubmitParams(.workflow(workflow, values: parameters))
        if batch { params.requestClass = .batch }
        params.timeout = jobTimeout
        let submitted = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.comfySubmit.rawValue, params: params.json) }
        guard wait else {
            if global.json { return Output.printJSON(submitted) }
            let job = try JSONDecoder().decode(JobInfo.self, from: submitted)
            return Output.print("job \(job.id) queued (gpuctl job \(job.id) shows it)")
        }
        let job = try JSONDecoder().decode(JobInfo.self, from: submitted)
        try JobWaiter(global: global).wait(job.id)
    }
}

extension RunCommand {
    /// The workflow's parameters of type image (none when the daemon cannot say: the
    /// submission then reports what is wrong).
    static func imageParameters(of workflow: String, client: RPCClient) -> Set<String> {
        guard let list = try? client.call(.workflowsList, as: WorkflowsListResult.self),
              let found = list.workflows.first(where: { $0.name == workflow }) else { return [] }
        return Set(found.parameters.filter { $0.type == "image" }.map(\.name))
    }
}

/// Follows `jobs.wait`: a progress line per node on a terminal (stderr), then the outputs.
struct JobWaiter {
    let global: GlobalOptions

    func wait(_ id: String) throws {
        Interrupt.exitOnCtrlC()
        // A job may wait behind others and run for long: no deadline unless one is given.
        let client = try global.connect(waitSeconds: 7 * 86_400)
        let bar = isatty(STDERR_FILENO) == 1 && !global.json
        let data = try CLIExit.run { () throws(RPCClientError) in
            try client.callRaw(RPCMethod.jobsWait.rawValue, params: JobIDParams(id: id).json) { data in
                if global.json { return Output.printJSON(data) }
                guard bar, let note = try? JSONDecoder().decode(JobNotification.self, from: data) else { return }
                // A pipeline's step that ended keeps its line; anything else is overwritten.
                if let step = note.step, step.state != "running" {
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + PipelineRenderer.stepLine(step) + "\n").utf8))
                } else {
                    let line = note.step.map(PipelineRenderer.stepLine) ?? JobsRenderer.progressLine(note)
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
                }
            }
        }
        if bar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if global.json { return Output.printJSON(data) }
        let job = try JSONDecoder().decode(JobInfo.self, from: data)
        guard job.state == "succeeded" else {
            FileHandle.standardError.write(Data("gpuctl: job \(job.id) \(job.state): \(job.error ?? "no reason given")\n".utf8))
            throw ExitCode(ExitCodes.daemonError)
        }
        if job.pipeline != nil { return Output.print(PipelineRenderer.result(job)) }
        Output.print((job.outputs ?? []).map(\.path).joined(separator: "\n"))
    }
}

/// `gpuctl jobs`: the newest jobs.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs (ComfyUI jobs and pipeline runs), newest first.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only jobs in this state (queued, admitted, submitted, running, succeeded, failed, cancelled; repeatable).")
    var state: [String] = []
    @Option(help: "How many to show.") var limit = 20

    func run() throws {
        var params = JobsListParams(limit: limit)
        if !state.isEmpty {
            do {
                params.states = try state.map { name throws(RPCErrorPayload) in try JobsListParams.state(named: name) }
            } catch {
                throw CLIExit.fail(.remote(error))
            }
        }
        let client = try global.connect()
        let data = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.jobsList.rawValue, params: params.json) }
        if global.json { return Output.printJSON(data) }
        Output.print(JobsRenderer.table(try JSONDecoder().decode(JobsListResult.self, from: data).jobs))
    }
}

/// `gpuctl job ID`: one job in full.
struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show one job: state, history, error, output files; a pipeline run's steps and result.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job's id.") var id: String
    @Flag(help: "Wait for it to end, showing progress, then print its output files.") var wait = false

    func run() throws {
        if wait { return try JobWaiter(global: global).wait(id) }
        let client = try global.connect()
        let data = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.jobsGet.rawValue, params: JobIDParams(id: id).json) }
        if global.json { return Output.printJSON(data) }
        Output.print(JobsRenderer.detail(try JSONDecoder().decode(JobInfo.self, from: data)))
    }
}

/// `gpuctl cancel ID`.
struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job, waiting or running.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job's id.") var id: String

    func run() throws {
        let client = try global.connect(slow: true)
        let data = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.jobsCancel.rawValue, params: JobIDParams(id: id).json) }
        if global.json { return Output.printJSON(data) }
        let job = try JSONDecoder().decode(JobInfo.self, from: data)
        Output.print("job \(job.id) \(job.state)")
    }
}
