import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUCtlTestSupport
import Testing

/// gpuctld and gpuctl as processes: start, readiness, signals, kill -9, a second daemon, the CLI.
@Suite(.timeLimit(.minutes(3))) struct ProcessTests {
    /// A loopback port nothing listens on (bound, then released).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func daemonArguments(_ directory: TemporaryDirectory) -> [String] {
        let port = closedPort()
        return ["--socket", directory.file("s.sock"), "--state-dir", directory.file("state"), "--vram", "24GiB",
                "--ollama-url", "http://127.0.0.1:\(port)", "--comfyui-url", "http://127.0.0.1:\(port)",
                "--log-level", "warning"]
    }

    static func pings(_ socket: String) async -> Bool {
        (try? await blocking { try RPCClient(socketPath: socket, timeout: .seconds(2)).call(.ping, as: PingResult.self).pong }) == true
    }

    @Test func startsStatusShowsDeclaredGPUAndBackendsDownAndSIGTERMExitsCleanly() async throws {
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        let daemon = try ChildProcess("gpuctld", Self.daemonArguments(directory))
        #expect(await eventually { await Self.pings(socket) })

        let seen = LockedBox<JSONValue?>(nil)
        #expect(await eventually {
            let run = try await ChildProcess.run("gpuctl", ["--socket", socket, "status", "--json"])
            guard run.status == 0 else { return false }
            let status = try JSONDecoder().decode(JSONValue.self, from: Data(run.stdout.utf8))
            seen.mutate { $0 = status }
            return status["backends"]?["ollama"]?["state"] == .string("down")
                && status["backends"]?["comfyui"]?["state"] == .string("down")
        })
        let status = seen.value
        #expect(status?["gpu"]?["source"] == .string("declared"))
        #expect(status?["gpu"]?["total"] == .number(Double(24 << 30)))

        let table = try await ChildProcess.run("gpuctl", ["status", "--socket", socket], environment: ["NO_COLOR": "1"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("VRAM    [░░░░") && table.stdout.contains("ollama   down"))

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(within: .seconds(10)) == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        directory.remove()
    }

    @Test func afterKill9TheStoreOpensAndTheDaemonServesAgain() async throws {
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        // A job written before the crash must be there after it.
        let store = try JobStore(directory: directory.file("state"))
        try store.insert(JobRecord(kind: .comfyui, jobClass: .batch, params: #"{"workflow":"invert"}"#))
        try store.close()

        let first = try ChildProcess("gpuctld", Self.daemonArguments(directory))
        #expect(await eventually { await Self.pings(socket) })
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        // The socket file is left behind, stale.
        #expect(FileManager.default.fileExists(atPath: socket))

        let second = try ChildProcess("gpuctld", Self.daemonArguments(directory))
        #expect(await eventually { await Self.pings(socket) })
        let jobs = try await blocking { try RPCClient(socketPath: socket).call(.status, as: StatusResult.self).jobs }
        #expect(jobs.queued == 1)
        second.signal(SIGINT)
        #expect(await second.waitForExit(within: .seconds(10)) == 0)
        directory.remove()
    }

    @Test func aSecondDaemonOnTheSameSocketRefusesToStart() async throws {
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        let first = try ChildProcess("gpuctld", Self.daemonArguments(directory))
        #expect(await eventually { await Self.pings(socket) })
        var arguments = Self.daemonArguments(directory)
        arguments[3] = directory.file("other-state")
        let second = try await ChildProcess.run("gpuctld", arguments)
        #expect(second.status == 1)
        #expect(second.stderr == "gpuctld: another gpuctld is already serving \(socket); stop it first (gpuctl --socket \(socket) status shows it), or pass another --socket\n")
        // Nor may a second daemon share the state directory through another socket.
        var sameState = Self.daemonArguments(directory)
        sameState[1] = directory.file("other.sock")
        let third = try await ChildProcess.run("gpuctld", sameState)
        #expect(third.status == 1)
        #expect(third.stderr.contains("already uses the state directory"))
        #expect(await Self.pings(socket))
        first.signal(SIGTERM)
        #expect(await first.waitForExit(within: .seconds(10)) == 0)
        directory.remove()
    }

    @Test func badSettingsAndBrokenStoresStopTheStartWithOneLine() async throws {
        let directory = try TemporaryDirectory()
        let badVRAM = try await ChildProcess.run("gpuctld", ["--socket", directory.file("s.sock"), "--vram", "lots"])
        #expect(badVRAM.status == 2)
        #expect(badVRAM.stderr == "gpuctld: --vram / GPUCTL_VRAM is 'lots'; write a size like 24GiB or 512MiB\n")
        let fromEnvironment = try await ChildProcess.run("gpuctld", [], environment: ["GPUCTL_RESERVE": "some"])
        #expect(fromEnvironment.status == 2 && fromEnvironment.stderr.contains("GPUCTL_RESERVE is 'some'"))

        try FileManager.default.createDirectory(atPath: directory.file("state"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: directory.file("state/\(JobStore.fileName)")))
        let corrupt = try await ChildProcess.run("gpuctld", Self.daemonArguments(directory))
        #expect(corrupt.status == 1)
        #expect(corrupt.stderr.contains("is damaged or not a SQLite database") && corrupt.stderr.split(separator: "\n").count == 1)
        directory.remove()
    }

    @Test func theCLIWithoutADaemonSaysSoInOneLine() async throws {
        let socket = "/tmp/gpuctl-none-\(UUID().uuidString.prefix(8)).sock"
        for command in [["status"], ["ping"], ["status", "--json"]] {
            let run = try await ChildProcess.run("gpuctl", ["--socket", socket] + command)
            #expect(run.status == 69)
            // With --json the error is also on stdout, as JSON; without it, stdout stays empty.
            if command.contains("--json") {
                #expect((try? JSONParser.parse(Data(run.stdout.utf8)))?["error"]?["data"]?["kind"] == "not_running", "\(run.stdout)")
            } else {
                #expect(run.stdout.isEmpty)
            }
            #expect(run.stderr == "gpuctl: gpuctld is not running: nothing answers on \(socket) (No such file or directory); start it with 'gpuctld --socket \(socket)' or 'systemctl start gpuctld', or point --socket / GPUCTL_SOCKET at the right socket\n")
        }
        let fromEnvironment = try await ChildProcess.run("gpuctl", ["ping"], environment: ["GPUCTL_SOCKET": socket])
        #expect(fromEnvironment.status == 69 && fromEnvironment.stderr.contains(socket))
        let usage = try await ChildProcess.run("gpuctl", ["frobnicate"])
        #expect(usage.status == 64)
    }
}

@Suite(.timeLimit(.minutes(3))) struct EarlyStopTests {
    /// systemd may stop the daemon the moment it starts. Once the socket exists, a SIGTERM is a
    /// clean stop (exit 0, socket removed), even before the service group runs.
    @Test func aStopAsSoonAsTheSocketExistsIsClean() async throws {
        for _ in 0..<5 {
            let directory = try TemporaryDirectory()
            let socket = directory.file("s.sock")
            let daemon = try ChildProcess("gpuctld", ProcessTests.daemonArguments(directory))
            #expect(await eventually(within: .seconds(10)) { FileManager.default.fileExists(atPath: socket) })
            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(within: .seconds(15)) == 0)
            #expect(!FileManager.default.fileExists(atPath: socket))
            directory.remove()
        }
    }

    /// Earlier still, before gpuctld's first line runs, the kernel's default applies; then no
    /// socket exists yet, and none may be left behind.
    @Test func aStopBeforeTheSocketExistsLeavesNothing() async throws {
        for delay in [0, 2, 10] {
            let directory = try TemporaryDirectory()
            let daemon = try ChildProcess("gpuctld", ProcessTests.daemonArguments(directory))
            try await Task.sleep(for: .milliseconds(delay))
            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(within: .seconds(15)) != nil)
            #expect(!FileManager.default.fileExists(atPath: directory.file("s.sock")))
            directory.remove()
        }
    }
}
