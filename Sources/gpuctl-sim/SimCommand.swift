import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlSim

/// `gpuctl-sim`: replays traces on a simulated card under gpuctld's Scheduler and the
/// baselines, side by side (docs/DESIGN.md, Arbitration simulator).
@main
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpuctl-sim",
        abstract: "Replay traces of a GPU box's work under gpuctld's Scheduler and other policies, side by side.",
        discussion: """
        A trace is JSON Lines: a header naming the models and workflows, then one arrival per line \
        (docs/DESIGN.md, Arbitration simulator). Named traces: \(TraceLibrary.names.joined(separator: ", ")) \
        (Traces/NAME.jsonl), or 'all'. `gpuctl trace record FILE` writes one from a live daemon.
        """,
        subcommands: [Run.self, Generate.self],
        defaultSubcommand: Run.self)

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Compare the policies on traces.")

        @Argument(help: "Trace files, named traces, or 'all'.")
        var traces: [String] = ["all"]

        @Option(help: "The card's size (default: what the trace names, else 24GiB).")
        var card: String?

        @Option(help: "Disk to VRAM bandwidth per second.")
        var bandwidth = "2GiB"

        @Option(help: "Comma-separated: \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var policies = PolicyKind.standard.map(\.rawValue).joined(separator: ",")

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        @Flag(help: "Print Markdown tables (as BENCHMARKS.md holds them).")
        var markdown = false

        @Option(help: "Where each trace's timeline (TRACE.svg) is written; 'none' for no picture.")
        var plots = "."

        @Option(help: "How many hours of each trace the picture shows.")
        var plotHours: Double = 2

        func run() throws {
            let kinds = try policies.split(separator: ",").map { name in
                guard let kind = PolicyKind(rawValue: String(name)) else {
                    throw ValidationError("unknown policy '\(name)'; the policies are \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return kind
            }
            guard let bandwidth = ByteSize(parsing: bandwidth), bandwidth.bytes > 0 else {
                throw ValidationError("--bandwidth '\(self.bandwidth)' is not a size per second, like 2GiB")
            }
            let cardOverride = try card.map { text in
                guard let size = ByteSize(parsing: text), size.bytes > 0 else { throw ValidationError("--card '\(text)' is not a size, like 24GiB") }
                return size
            }
            for name in traces.flatMap({ $0 == "all" ? TraceLibrary.names : [$0] }) {
                let trace = try Self.load(name)
                let settings = CardSettings(cardBytes: (cardOverride ?? trace.header.card ?? .gibibytes(24)).bytes,
                                            bandwidth: Double(bandwidth.bytes))
                let report = ComparisonReport(trace: trace, card: settings, results: Simulation.compare(trace, kinds: kinds, card: settings))
                if json {
                    FileHandle.standardOutput.write(report.json())
                    print()
                } else {
                    print(markdown ? report.markdown() : report.table())
                }
                if plots != "none" {
                    let path = (plots as NSString).appendingPathComponent("\(trace.header.trace).svg")
                    guard FileManager.default.createFile(atPath: path, contents: Data(TimelineSVG.render(report, hours: plotHours).utf8)) else {
                        throw ValidationError("could not write the timeline to \(path); give --plots a writable folder, or --plots none")
                    }
                    if !json { print("timeline: \(path)\n") }
                }
            }
        }

        /// A file, else a shipped trace by name (Traces/NAME.jsonl beside the working directory,
        /// or built in).
        static func load(_ name: String) throws -> TraceFile {
            if FileManager.default.fileExists(atPath: name) { return try TraceFile(contentsOf: name) }
            let shipped = "Traces/\(name).jsonl"
            if FileManager.default.fileExists(atPath: shipped) { return try TraceFile(contentsOf: shipped) }
            if let named = TraceLibrary.named(name) { return named }
            throw ValidationError("no trace file '\(name)', and no named trace by that name (\(TraceLibrary.names.joined(separator: ", ")))")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate", abstract: "Write a random trace from a seed, or a named one.")

        @Option(help: "A named trace to write (\(TraceLibrary.names.joined(separator: ", "))), instead of a random one.")
        var named: String?

        @Option(help: "The random trace's seed.")
        var seed: UInt64 = 1

        @Option(help: "How many arrivals.")
        var arrivals = 1_000

        @Option(help: "Mean seconds between arrivals.")
        var meanGap: Double = 6

        @Option(help: "The card the trace is meant for.")
        var card = "24GiB"

        @Option(name: [.short, .long], help: "Where to write it ('-' for standard output).")
        var output = "-"

        func run() throws {
            let trace: TraceFile
            if let named {
                guard let found = TraceLibrary.named(named) else {
                    throw ValidationError("no named trace '\(named)'; they are \(TraceLibrary.names.joined(separator: ", "))")
                }
                trace = found
            } else {
                guard let size = ByteSize(parsing: card), size.bytes > 0 else { throw ValidationError("--card '\(card)' is not a size, like 24GiB") }
                guard arrivals > 0, meanGap > 0 else { throw ValidationError("--arrivals and --mean-gap must be above zero") }
                trace = TraceLibrary.random(seed: seed, arrivals: arrivals, meanGap: meanGap, card: size)
            }
            if output == "-" {
                FileHandle.standardOutput.write(trace.jsonLines())
            } else if !FileManager.default.createFile(atPath: output, contents: trace.jsonLines()) {
                throw ValidationError("could not write \(output)")
            }
        }
    }
}
