import ArgumentParser

/// The `gpuctl` command line: a thin client of gpuctld's socket.
public struct GPUCtlCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gpuctl",
        abstract: "Talk to gpuctld, the daemon that shares one GPU between Ollama and ComfyUI.",
        discussion: """
            Exit codes: 0 success; 1 the daemon answered with an error; 64 bad arguments; \
            69 the daemon is not running or the socket may not be used; 70 an unreadable reply; \
            75 the daemon did not answer in time.
            """,
        version: GPUCtlVersionString.value,
        subcommands: [StatusCommand.self, PsCommand.self, SwapCommand.self, LoadCommand.self, UnloadCommand.self,
                      GenerateCommand.self, ChatCommand.self, EmbedCommand.self, SpeakCommand.self, SearchCommand.self, CollectionsCommand.self, RunCommand.self, PipelinesCommand.self, PipelineCommand.self, JobsCommand.self, JobCommand.self, CancelCommand.self, WorkflowsCommand.self, FreeCommand.self, TrustCommand.self, TopCommand.self, EventsCommand.self, TraceCommand.self, MetricsCommand.self, DoctorCommand.self, PingCommand.self, VersionCommand.self,
                      CompletionsCommand.self, ManPageCommand.self])

    public init() {}
}

enum GPUCtlVersionString {
    static let value = "gpuctl 0.1.0"
}

/// `gpuctl --socket S status` and `gpuctl status --socket S` mean the same: global options
/// written before the subcommand are moved after it, where ArgumentParser reads them.
public enum GlobalArguments {
    static let withValue: Set<String> = ["--socket", "--timeout"]
    static let flags: Set<String> = ["--json"]

    public static func reorder(_ arguments: [String]) -> [String] {
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if withValue.contains(argument), index + 1 < arguments.count {
                moved += arguments[index...(index + 1)]
                index += 2
            } else if withValue.contains(name) || flags.contains(argument) {
                moved.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !moved.isEmpty, index < arguments.count else { return arguments }
        // The subcommand (with its own subcommands: `collections delete`), then the moved
        // options, then the rest.
        var end = index
        var command: any ParsableCommand.Type = GPUCtlCommand.self
        while end < arguments.count,
              let next = command.configuration.subcommands.first(where: { $0.configuration.commandName == arguments[end] }) {
            command = next
            end += 1
        }
        end = max(end, index + 1)
        return Array(arguments[index..<end]) + moved + arguments[end...]
    }
}
