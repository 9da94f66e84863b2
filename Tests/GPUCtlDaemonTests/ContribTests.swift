import Foundation
import GPUCtlModels
import GPUCtlTestSupport
import Testing

/// The integrations in contrib/, run against the real daemon with the fake backends: the shell
/// script (socat + jq) and the Python module always (CI installs socat and jq); the Neovim
/// plugin and the Emacs package when nvim / emacs are installed.
@Suite struct ContribTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func which(_ tool: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `arguments` from the repository root with `environment` added; status and output.
    /// Shaped like `ChildProcess.run`: stdout and stderr are read on threads of their own while
    /// the exit is polled, so no read can hold the cooperative pool.
    static func run(_ arguments: [String], environment: [String: String], input: String? = nil) async throws
        -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GPUCTL_") }
            .merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let stdin = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        async let output = blocking { out.fileHandleForReading.readDataToEndOfFile() }
        async let errors = blocking { err.fileHandleForReading.readDataToEndOfFile() }
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { process.terminate() }
        let (stdoutData, stderrData) = try await (output, errors)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
    }

    @Test func theShellScriptCallsSwapsStreamsAndReportsErrors() async throws {
        #expect(Self.which("socat") != nil && Self.which("jq") != nil, "install socat and jq (.ci/run does)")
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

    @Test func theShellScriptFollowsEvents() async throws {
        let bed = try await BackendTestBed.start()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", "contrib/shell/gpuctl-rpc.sh", "events", "model"]
        process.currentDirectoryURL = Self.root
        process.environment = ProcessInfo.processInfo.environment.merging(["GPUCTL_SOCKET": bed.daemon.socketPath]) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        _ = try await bed.call(.modelsSwap, ["model": "small"], as: ModelChangeResult.self)
        try await Task.sleep(for: .milliseconds(500))
        // The daemon's stop ends the subscription: the script says so and exits 1.
        try await bed.stop()
        let output = try await blocking { String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        let errors = try await blocking { String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        try await blocking { process.waitUntilExit() }
        #expect(process.terminationStatus == 1 && errors.contains("[shutting_down]"), "\(errors)")
        let events = output.split(separator: "\n").compactMap { try? JSONDecoder().decode(DaemonEvent.self, from: Data($0.utf8)) }
        #expect(events.first?.type == .subscribed)
        #expect(events.contains { $0.type == .modelLoaded && $0.model == "llama3.2:3b" }, "\(output)")
    }

    @Test func thePythonModulePassesItsOwnTests() async throws {
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
