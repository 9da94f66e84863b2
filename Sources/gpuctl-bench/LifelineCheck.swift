import ArgumentParser
import Foundation
import ProcessSpawn

/// `gpuctl-bench lifeline --pid-file F CMD...`: runs CMD in this process's lifeline group,
/// writes its pid to F and waits for it. The tests kill this process with SIGKILL and check
/// that CMD dies with it (no orphan however the parent ends).
struct LifelineCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifeline", abstract: "Run a command that must die with this process (a check for the tests).",
        shouldDisplay: false)

    @Option(help: "Where to write the command's pid.") var pidFile: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var command: [String]

    func run() throws {
        guard let program = command.first else { throw ValidationError("name a command to run") }
        var spec = ChildSpec(program, Array(command.dropFirst()))
        spec.output = .discard
        spec.error = .discard
        spec.group = .lifeline
        let child = try Child.spawn(spec)
        try "\(child.pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        _ = child.waitBlocking()
    }
}
