import ArgumentParser
import Foundation
import ProcessSpawn
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl doctor`: checks the socket, permissions, the daemon, GPU access, the backends and
/// the catalog, and prints what to fix.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor", abstract: "Check the socket, permissions, GPU access, backends and catalog, and say what to fix.",
        discussion: "Exits 0 when nothing is wrong (warnings allowed), 1 when something is.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let checks = Doctor.checks(gather())
        let failed = checks.contains { $0.level == .problem }
        if global.json {
            struct Report: Encodable { var ok: Bool; var checks: [DoctorCheck] }
            Output.printJSON(try JSONEncoder.rpc.encode(Report(ok: !failed, checks: checks)))
        } else {
            Output.print(Doctor.render(checks, color: Output.useColor))
        }
        if failed { throw ExitCode(ExitCodes.daemonError) }
    }

    private func gather() -> DoctorFacts {
        let path = global.socketPath
        var info = stat()
        let file: DoctorFacts.SocketFile = stat(path, &info) != 0 ? .missing
            : (info.st_mode & S_IFMT) == S_IFSOCK ? .socket : .notASocket
        var facts = DoctorFacts(socketPath: path, socketFile: file)
        guard file == .socket else { return facts }
        do throws(RPCClientError) {
            let client = try RPCClient(socketPath: path, timeout: .seconds(global.timeout ?? 10))
            facts.status = try client.call(.status, as: StatusResult.self)
            facts.daemonVersion = try? client.call(.version, as: VersionResult.self)
            facts.workflows = try? client.call(.workflowsList, as: WorkflowsListResult.self)
        } catch {
            switch error {
            case .permissionDenied: facts.permissionDenied = true
            case .remote(let payload) where payload.kind == .forbidden: facts.permissionDenied = true
            default: if facts.status == nil { facts.connectError = error.message }
            }
        }
        return facts
    }
}

/// `gpuctl completions bash|zsh|fish`: the completion script, generated from the commands.
struct CompletionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completions", abstract: "Print the shell completion script for bash, zsh or fish.",
        discussion: """
            bash: gpuctl completions bash | sudo tee /usr/share/bash-completion/completions/gpuctl
            zsh:  gpuctl completions zsh > "${fpath[1]}/_gpuctl"
            fish: gpuctl completions fish > ~/.config/fish/completions/gpuctl.fish
            """)

    @Argument(help: "bash, zsh or fish.") var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else {
            throw ValidationError("no completions for '\(shell)'; use bash, zsh or fish")
        }
        Output.print(GPUCtlCommand.completionScript(for: kind))
    }
}

/// `gpuctl manpage`: gpuctl(1) in roff, generated from the commands.
struct ManPageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manpage", abstract: "Print the gpuctl(1) manual page, generated from the commands.",
        discussion: "gpuctl manpage | sudo tee /usr/local/share/man/man1/gpuctl.1; man gpuctl")

    func run() throws {
        // ArgumentParser describes the whole command tree as JSON (--experimental-dump-help),
        // asked of this very executable (found through /proc, however it was called).
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        let dump: Child.Result
        do {
            dump = try Child.runBlocking(ChildSpec(executable, ["--experimental-dump-help"]), within: .seconds(30))
        } catch {
            FileHandle.standardError.write(Data("gpuctl: \(error.message)\n".utf8))
            throw ExitCode(ExitCodes.protocolError)
        }
        guard dump.status == ExitStatus(code: 0) else {
            let outcome = dump.status.map { "\($0)" } ?? "no answer within 30 s"
            FileHandle.standardError.write(Data("gpuctl: \(executable) --experimental-dump-help failed (\(outcome)): \(dump.errorText)\n".utf8))
            throw ExitCode(ExitCodes.protocolError)
        }
        let data = Data(dump.output)
        Output.write(try ManPage.render(toolInfo: data))
    }
}
