import Foundation
import ProcessSpawn
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The integrations in contrib/, run against the real daemon with the fake backends: the shell
/// script (socat + jq) and the Python module always (CI installs socat and jq); the Neovim
/// plugin and the Emacs package when nvim / emacs are installed.
@Suite(.timeLimit(.minutes(3))) struct ContribTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func which(_ tool: String) -> String? { ChildSpec.find(tool) }

    /// Why the shell script's tests cannot run here, if they cannot (the README does not
    /// require socat and jq; CI installs them).
    static let shellToolsMissing: String? = {
        let missing = ["socat", "jq"].filter { which($0) == nil }
        return missing.isEmpty ? nil : "\(missing.joined(separator: " and ")) not installed (apt-get install socat jq)"
    }()

    /// Runs `arguments` from the repository root with `environment` added; status and output.
    static func run(_ arguments: [String], environment: [String: String], input: String? = nil) async throws
        -> (status: Int32, stdout: String, stderr: String) {
        let run = try await ChildProcess.run(command: arguments, environment: ChildProcess.environment(adding: environment),
                                             input: input, workingDirectory: root.path, within: .seconds(60))
        return (run.status ?? -1, run.stdout, run.stderr)
    }

    @Test(.disabled(if: shellToolsMissing != nil, Comment(rawValue: shellToolsMissing ?? "")))
    func theShellScriptCallsSwapsStreamsAndReportsErrors() async throws {
        let bed = try await BackendTestBed.start()
        let env = ["GPUCTL_SOCKET": bed.daemon.socketPath]
        let script = "contrib/shell/gpuctl-rpc.sh"
        let ping = try await Self.run(["bash", script, "call", "ping"], environment: env)
        #expect(ping.status == 0 && ping.stdout == "{\"pong\":true}\n", "\(ping)")
        let swap = try await Self.run(["bash", script, "swap", "small"], environment: env)
        #expect(swap.status == 0 && swap.stdout.hasPrefix("llama3.2:3b loaded in "), "\(swap)")
        let generate = try await Self.run(["bash", script, "generate", "small"], environment: env, input: "Say something.")
        #expect(generate.status == 0 && generate.stdout.hasPrefix("The quick brown fox"), "\(generate)")
        let status = try await Self.run(["bash", script, "status"], environment: env)
        #expect(status.status == 0 && status.stdout.contains("ollama up") && status.stdout.contains("  llama3.2:3b loaded"), "\(status)")
        let missing = try await Self.run(["bash", script, "swap", "no-such-model"], environment: env)
        #expect(missing.status == 1 && missing.stderr.contains("[model_not_found]"), "\(missing)")
        let failing = try await Self.run(["bash", script, "generate", "no-such-model", "hi"], environment: env)
        #expect(failing.status == 1 && failing.stderr.contains("[model_not_found]"), "\(failing)")
        let nobody = try await Self.run(["bash", script, "status"], environment: ["GPUCTL_SOCKET": "/nonexistent.sock"])
        #expect(nobody.status == 69 && nobody.stderr.contains("gpuctld is not running"), "\(nobody)")
        try await bed.stop()
    }

    @Test(.disabled(if: shellToolsMissing != nil, Comment(rawValue: shellToolsMissing ?? "")))
    func theShellScriptFollowsEvents() async throws {
        let bed = try await BackendTestBed.start()
        let script = try ChildProcess(command: ["bash", "contrib/shell/gpuctl-rpc.sh", "events", "model"],
                                      environment: ChildProcess.environment(adding: ["GPUCTL_SOCKET": bed.daemon.socketPath]),
                                      workingDirectory: Self.root.path)
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        _ = try await bed.call(.modelsSwap, ["model": "small"], as: ModelChangeResult.self)
        try await Task.sleep(for: .milliseconds(500))
        // The daemon's stop ends the subscription: the script says so and exits 1.
        try await bed.stop()
        let (status, output, errors) = await script.finish(within: .seconds(30))
        #expect(status == 1 && errors.contains("[shutting_down]"), "\(errors)")
        let events = output.split(separator: "\n").compactMap { try? JSONDecoder().decode(DaemonEvent.self, from: Data($0.utf8)) }
        #expect(events.first?.type == .subscribed)
        #expect(events.contains { $0.type == .modelLoaded && $0.model == "llama3.2:3b" }, "\(output)")
    }

    @Test(.disabled(if: which("python3") == nil, "python3 is not installed"))
    func thePythonModulePassesItsOwnTests() async throws {
        let bed = try await BackendTestBed.start()
        let env = ["GPUCTL_SOCKET": bed.daemon.socketPath]
        let tests = try await Self.run(["python3", "-m", "unittest", "-v", "contrib/python/test_gpuctl.py"], environment: env)
        #expect(tests.status == 0 && tests.stderr.contains("Ran 5 tests") && tests.stderr.contains("OK"), "\(tests.stderr)")
        let cli = try await Self.run(["python3", "contrib/python/gpuctl.py", "generate", "small", "hi"], environment: env)
        #expect(cli.status == 0 && cli.stdout.hasPrefix("The quick brown"), "\(cli)")
        let refused = try await Self.run(["python3", "contrib/python/gpuctl.py", "swap", "no-such-model"], environment: env)
        #expect(refused.status == 1 && refused.stderr.contains("[model_not_found]"), "\(refused)")
        try await bed.stop()
    }

    /// The editor checks write what they saw to a file: the swap, the streamed answer, an error's kind.
    static func expectEditorCheck(_ output: String) {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "swapped llama3.2:3b", "\(output)")
        #expect(lines.contains { $0.hasPrefix("answer The quick brown fox") }, "\(output)")
        #expect(lines.contains("error model_not_found"), "\(output)")
    }

    @Test(.enabled(if: which("nvim") != nil, "nvim is not installed"))
    func theNeovimPluginSwapsAndStreamsIntoASplit() async throws {
        let bed = try await BackendTestBed.start()
        let out = bed.daemon.directory.file("nvim-check.txt")
        let run = try await Self.run(["timeout", "60", "nvim", "--headless", "-u", "NONE", "--cmd", "set rtp+=contrib/nvim",
                                      "--cmd", "runtime plugin/gpuctl.lua", "-c", "luafile contrib/nvim/test/check.lua"],
                                     environment: ["GPUCTL_SOCKET": bed.daemon.socketPath, "GPUCTL_CHECK_OUT": out])
        #expect(run.status == 0, "\(run)")
        Self.expectEditorCheck((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
        try await bed.stop()
    }

    @Test(.enabled(if: which("emacs") != nil, "emacs is not installed"))
    func theEmacsPackageSwapsAndStreamsIntoABuffer() async throws {
        let bed = try await BackendTestBed.start()
        let out = bed.daemon.directory.file("emacs-check.txt")
        let run = try await Self.run(["timeout", "60", "emacs", "--batch", "-Q", "-l", "contrib/emacs/gpuctl.el",
                                      "-l", "contrib/emacs/test/check.el"],
                                     environment: ["GPUCTL_SOCKET": bed.daemon.socketPath, "GPUCTL_CHECK_OUT": out])
        #expect(run.status == 0, "\(run)")
        Self.expectEditorCheck((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
        try await bed.stop()
    }
}
