import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl trace record FILE`: writes the daemon's live arrivals as a trace that `gpuctl-sim`
/// replays against other policies and card sizes. No prompt text, only sizes and timings.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Record the daemon's work as a trace for gpuctl-sim.",
        subcommands: [Record.self])

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "record", abstract: "Write what arrives at the daemon to FILE until Ctrl-C (or --duration).",
            discussion: """
            FILE is JSON Lines: a header with the catalog's Ollama models (their charge on the card) and \
            the workflows (their estimate, and what they were seen to take), then one line per request \
            or job as its work ends: when it arrived, what it needed, its class, where it came from and \
            how long it ran. No prompt text. Replay it with `gpuctl-sim FILE`.
            """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Where to write the trace (replaced if it exists).") var file: String
        @Option(help: "The trace's name in gpuctl-sim's tables.") var name = "recorded"
        @Option(help: "Stop after this many seconds.") var duration: Double?

        func run() throws {
            let started = Date()
            var recorder = try TraceRecorder(file: file, name: name, client: try global.connect())
            Interrupt.exitOnCtrlC()
            if let duration {
                guard duration > 0 else { throw ValidationError("--duration must be above zero") }
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: duration)
                    Foundation.exit(0)
                }
            }
            let until = duration.map { String(format: "for %g s (or until Ctrl-C)", $0) } ?? "until Ctrl-C"
            FileHandle.standardError.write(Data("gpuctl: recording to \(file) \(until)\n".utf8))
            let client = try global.connect(waitSeconds: 365 * 86_400)
            let params = EventsSubscribeParams(types: ["trace"]).json
            _ = try CLIExit.run { () throws(RPCClientError) in
                try client.callRaw(RPCMethod.eventsSubscribe.rawValue, params: params) { data in
                    guard let event = try? JSONDecoder().decode(DaemonEvent.self, from: data), var arrival = event.arrival else { return }
                    // Arrived before the recording began: not part of it.
                    guard arrival.at >= started.timeIntervalSince1970 else { return }
                    arrival.at -= started.timeIntervalSince1970
                    recorder.add(arrival)
                }
            }
        }
    }
}

/// The trace file as it grows: the header first, each arrival appended as it comes. A model or
/// workflow the header does not know yet (the catalog changed, a model Ollama had) is looked up
/// and the file is written again with it.
struct TraceRecorder {
    let file: String
    let client: RPCClient
    var header: Trace.Header
    var lines: [Data] = []
    let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(file: String, name: String, client: RPCClient) throws {
        self.file = file
        self.client = client
        header = Trace.Header(trace: name, description: "recorded by gpuctl trace record", models: [], workflows: [])
        try refreshHeader()
        try rewrite()
    }

    /// The catalog's Ollama models and the workflows, as the daemon charges them now.
    mutating func refreshHeader() throws {
        let models = try CLIExit.run { () throws(RPCClientError) in try client.call(.modelsList, as: ModelsListResult.self) }
        let workflows = try CLIExit.run { () throws(RPCClientError) in try client.call(.workflowsList, as: WorkflowsListResult.self) }
        header.card = models.budget.total
        header.models = models.models.compactMap { entry in
            guard let bytes = entry.footprint ?? entry.declaredVRAM ?? entry.sizeVRAM ?? entry.size else { return nil }
            return Trace.Model(name: entry.name, bytes: bytes)
        }
        header.workflows = workflows.workflows.map { workflow in
            let estimate = workflow.vram?.bytes ?? 0
            let learned = workflow.learnedVRAM?.bytes ?? estimate
            return Trace.Workflow(name: workflow.name, checkpoints: workflow.checkpoints, checkpointBytes: ByteSize(bytes: estimate),
                                  activationBytes: ByteSize(bytes: learned - min(learned, estimate)), secondsPerStep: 0)
        }
    }

    mutating func add(_ arrival: Trace.Arrival) {
        guard let line = try? encoder.encode(arrival) else { return }
        lines.append(line)
        let known = arrival.model.map { name in header.models.contains { $0.name == name } }
            ?? arrival.workflow.map { name in header.workflows.contains { $0.name == name } } ?? false
        if !known, (try? refreshHeader()) != nil {
            try? rewrite()
            return
        }
        if let handle = FileHandle(forWritingAtPath: file) {
            handle.seekToEndOfFile()
            handle.write(line + Data([0x0A]))
            try? handle.close()
        }
    }

    /// The whole file: header, then every arrival so far.
    func rewrite() throws {
        var data = try encoder.encode(header) + Data([0x0A])
        for line in lines { data += line + Data([0x0A]) }
        guard FileManager.default.createFile(atPath: file, contents: data) else {
            FileHandle.standardError.write(Data("gpuctl: could not write \(file): check that its folder exists and is writable\n".utf8))
            throw ExitCode(ExitCodes.usage)
        }
    }
}
