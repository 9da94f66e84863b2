import ArgumentParser
import Foundation
import GPUCtlCommands
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// doctor, completions, the man page, --json everywhere, colours only where they belong.
@Suite(.timeLimit(.minutes(3))) struct CLIPolishTests {
    static func facts(_ change: (inout DoctorFacts) -> Void = { _ in }) -> DoctorFacts {
        var facts = DoctorFacts(socketPath: "/run/gpuctl/gpuctld.sock", socketFile: .socket)
        facts.status = StatusResult(
            daemon: DaemonStatus(version: "0.1.0", pid: 7, uptimeSeconds: 60, socket: "/run/gpuctl/gpuctld.sock", stateDir: "/var/lib/gpuctl"),
            gpu: GPUStatus(name: "NVIDIA RTX 4090", total: .gibibytes(24), used: .gibibytes(1), free: .gibibytes(23), source: .nvml, processes: []),
            budget: BudgetStatus(total: .gibibytes(24), reserve: .gibibytes(1), foreign: .gibibytes(0), budget: .gibibytes(23)),
            backends: BackendsStatus(ollama: BackendStatus(url: "http://127.0.0.1:11434", state: .up, version: "0.33.0"),
                                     comfyui: BackendStatus(url: "http://127.0.0.1:8188", state: .up, version: "0.3.64")),
            catalog: CatalogSummary(path: "/etc/gpuctl/models.json", models: 3, ollama: 2, comfyui: 1, pinned: 0, declaredVRAM: .gibibytes(9)),
            jobs: JobCounts())
        facts.daemonVersion = VersionResult()
        change(&facts)
        return facts
    }

    @Test func doctorSaysWhatIsWrongAndWhatToDo() {
        let healthy = Doctor.checks(Self.facts())
        #expect(healthy.map(\.name) == ["socket", "permissions", "daemon", "gpu", "ollama", "comfyui", "catalog"])
        #expect(healthy.allSatisfy { $0.level == .ok })
        #expect(Doctor.render(healthy).hasSuffix("All good."))

        let missing = Doctor.checks(DoctorFacts(socketPath: "/run/x.sock", socketFile: .missing))
        #expect(missing.count == 1 && missing[0].level == .problem && missing[0].fix?.contains("systemctl enable --now gpuctld.socket") == true)
        #expect(Doctor.checks(DoctorFacts(socketPath: "/tmp/f", socketFile: .notASocket))[0].detail.contains("not a socket"))
        var denied = DoctorFacts(socketPath: "/run/x.sock", socketFile: .socket)
        denied.permissionDenied = true
        #expect(Doctor.checks(denied).last?.fix?.contains("usermod -aG") == true)

        let broken = Doctor.checks(Self.facts {
            $0.status?.gpu.source = .declared
            $0.status?.backends.comfyui = BackendStatus(url: "http://127.0.0.1:8188", state: .down, lastError: "connection refused")
            $0.status?.catalog.path = nil
            $0.daemonVersion?.protocol = 99
            $0.workflows = WorkflowsListResult(directory: "/etc/gpuctl/workflows", workflows: [],
                                               broken: [.init(name: "txt2img", problems: ["node 3 has no input 'seed'"])])
        })
        let byName = Dictionary(broken.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        #expect(byName["gpu"]?.level == .warning && byName["gpu"]?.fix?.contains("/dev/nvidiactl") == true)
        #expect(byName["comfyui"]?.level == .problem && byName["comfyui"]?.detail.contains("connection refused") == true)
        #expect(byName["comfyui"]?.fix?.contains("--comfyui-url") == true)
        #expect(byName["catalog"]?.level == .warning && byName["daemon"]?.level == .warning)
        #expect(byName["workflow txt2img"]?.detail == "node 3 has no input 'seed'")
        let text = Doctor.render(broken)
        #expect(text.contains("✗ comfyui") && text.contains("→ start ComfyUI") && text.hasSuffix("1 problem, 4 warnings."), "\(text)")
    }

    @Test func doctorRunsAgainstTheDaemonAndExitsByWhatItFound() async throws {
        let bed = try await BackendTestBed.start()
        #expect(await eventually { try await bed.call(.status, as: StatusResult.self).backends.comfyui.state == .up })
        let run = try await ChildProcess.run("gpuctl", ["doctor", "--socket", bed.daemon.socketPath])
        #expect(run.status == 0 && run.stdout.contains("✓ ollama") && run.stdout.contains("! gpu"), "\(run.stdout)")
        let json = try await ChildProcess.run("gpuctl", ["doctor", "--json", "--socket", bed.daemon.socketPath])
        let report = try JSONDecoder().decode([String: JSONValue].self, from: Data(json.stdout.utf8))
        #expect(report["ok"] == .bool(true) && { if case .array(let checks)? = report["checks"] { return checks.count == 7 } else { return false } }())
        await bed.comfyui.stop()
        #expect(await eventually { try await bed.call(.status, as: StatusResult.self).backends.comfyui.state == .down })
        let down = try await ChildProcess.run("gpuctl", ["doctor", "--socket", bed.daemon.socketPath])
        #expect(down.status == 1 && down.stdout.contains("✗ comfyui"), "\(down.stdout)")
        let nobody = try await ChildProcess.run("gpuctl", ["doctor", "--socket", bed.daemon.directory.file("none.sock")])
        #expect(nobody.status == 1 && nobody.stdout.contains("✗ socket"))
        try await bed.stop()
    }

    static var visibleSubcommands: [ParsableCommand.Type] {
        GPUCtlCommand.configuration.subcommands.filter { $0.configuration.shouldDisplay }
    }

    @Test func completionsAreGeneratedFromTheCommands() async throws {
        let names = Self.visibleSubcommands.compactMap { $0.configuration.commandName }
        #expect(names.contains("top") && names.contains("doctor") && names.contains("events"))
        for shell in ["bash", "zsh", "fish"] {
            let run = try await ChildProcess.run("gpuctl", ["completions", shell])
            #expect(run.status == 0)
            for name in names { #expect(run.stdout.contains(name), "\(shell) completions lack \(name)") }
        }
        let bash = try await ChildProcess.run("gpuctl", ["completions", "bash"])
        let check = try await ChildProcess.run("gpuctl", ["completions", "bash"])
        #expect(bash.stdout == check.stdout)
        let script = bash.stdout
        let syntax = try await ChildProcess.run(command: ["/bin/bash", "-n"], environment: ChildProcess.environment(adding: [:]),
                                                input: script)
        #expect(syntax.status == 0, "the bash completion script does not parse: \(syntax.stderr)")
        let unknown = try await ChildProcess.run("gpuctl", ["completions", "tcsh"])
        #expect(unknown.status == 64 && unknown.stderr.contains("bash, zsh or fish"))
    }

    @Test func theManPageHasEveryCommand() async throws {
        let run = try await ChildProcess.run("gpuctl", ["manpage"])
        #expect(run.status == 0 && run.stdout.hasPrefix(".TH GPUCTL 1 "))
        for command in Self.visibleSubcommands {
            let name = try #require(command.configuration.commandName)
            #expect(run.stdout.contains(".SS \"\(name)\""), "no section for \(name)")
            #expect(run.stdout.contains(ManPage.escape(command.configuration.abstract)), "\(name)'s abstract is missing")
        }
        #expect(run.stdout.contains("\\fB--metrics-listen") == false)  // gpuctld's flags are not gpuctl's
        #expect(run.stdout.contains(".SH OPTIONS") && run.stdout.contains("\\fB--all\\fR"))
        // No line starts with a stray dot or quote that roff would read as a request.
        for line in run.stdout.split(separator: "\n") where line.hasPrefix(".") || line.hasPrefix("'") {
            #expect(["TH", "SH", "SS", "PP", "TP", "B "].contains { line.dropFirst().hasPrefix($0) }, "\(line)")
        }
    }

    /// --json everywhere: every command that talks to the daemon takes it, and an error under it
    /// is JSON too (the sentence still goes to stderr).
    @Test func everyCommandTakesJSONAndErrorsAreJSONToo() async throws {
        // A command group (gpuctl trace) is checked through its own commands.
        let commands = Self.visibleSubcommands.flatMap { $0.configuration.subcommands.isEmpty ? [$0] : $0.configuration.subcommands }
        for command in commands where !["completions", "manpage"].contains(command.configuration.commandName ?? "") {
            #expect(GPUCtlCommand.helpMessage(for: command).contains("--json"), "\(command.configuration.commandName ?? "?") has no --json")
        }
        let bed = try await BackendTestBed.start()
        let refused = try await ChildProcess.run("gpuctl", ["swap", "no-such-model", "--json", "--socket", bed.daemon.socketPath])
        #expect(refused.status == 1 && refused.stderr.contains("gpuctl: model 'no-such-model'"))
        let error = try JSONDecoder().decode([String: RPCErrorPayload].self, from: Data(refused.stdout.utf8))["error"]
        #expect(error?.kind == .modelNotFound)
        let away = try await ChildProcess.run("gpuctl", ["--json", "status", "--socket", bed.daemon.directory.file("none.sock")])
        #expect(away.status == 69 && (try? JSONParser.parse(Data(away.stdout.utf8)))?["error"]?["data"]?["kind"] == "not_running")
        let top = try await ChildProcess.run("gpuctl", ["top", "--json", "--socket", bed.daemon.socketPath])
        let snapshot = try JSONParser.parse(Data(top.stdout.utf8))
        #expect(snapshot["status"]?["budget"] != nil && snapshot["models"]?["models"] != nil && snapshot["jobs"]?["jobs"] != nil)
        try await bed.stop()
    }

    /// Colours on a terminal only, and never with NO_COLOR.
    @Test func coloursOnlyOnATerminalAndNeverWithNoColor() async throws {
        let bed = try await BackendTestBed.start()
        #expect(await eventually { try await bed.call(.status, as: StatusResult.self).backends.ollama.state == .up })
        let socket = bed.daemon.socketPath
        let coloured = try PseudoTerminal("gpuctl", ["status", "--socket", socket])
        #expect(await coloured.waitForExit() == 0)
        #expect(await eventually { coloured.output.contains("\u{1B}[32mup\u{1B}[0m") }, "\(coloured.output)")
        let plain = try PseudoTerminal("gpuctl", ["status", "--socket", socket], environment: ["NO_COLOR": "1"])
        #expect(await plain.waitForExit() == 0)
        #expect(await eventually { plain.output.contains("comfyui") } && !plain.output.contains("\u{1B}["))
        let piped = try await ChildProcess.run("gpuctl", ["status", "--socket", socket])
        #expect(piped.status == 0 && piped.stdout.contains(" up ") && !piped.stdout.contains("\u{1B}["))
        let doctor = try PseudoTerminal("gpuctl", ["doctor", "--socket", socket])
        #expect(await doctor.waitForExit() == 0)
        #expect(await eventually { doctor.output.contains("\u{1B}[32m✓\u{1B}[0m") })
        try await bed.stop()
    }
}
