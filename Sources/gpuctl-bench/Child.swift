import Foundation
import GPUCtlModels
import GPUCtlRPC
import ProcessSpawn

/// A child process of the benchmark: the echo server, a daemon, the CLI. It joins the
/// lifeline group, so a benchmark that is interrupted or crashes leaves none running.
final class BenchProcess {
    let child: Child

    private init(child: Child) { self.child = child }

    var pid: Int32 { child.pid }

    static func start(_ path: String, _ arguments: [String]) throws -> BenchProcess {
        var spec = ChildSpec(path, arguments)
        spec.output = .discard
        spec.error = .discard
        spec.group = .lifeline
        return BenchProcess(child: try Child.spawn(spec))
    }

    /// A daemon with a declared card and both backends pointed at a port nothing listens on,
    /// as on a machine with no GPU, no Ollama and no ComfyUI.
    static func startDaemon(products: URL, socket: String, state: String) throws -> BenchProcess {
        try start(products.appendingPathComponent("gpuctld").path, [
            "--socket", socket, "--state-dir", state, "--vram", "24GiB",
            "--ollama-url", "http://127.0.0.1:9", "--comfyui-url", "http://127.0.0.1:9", "--log-level", "error",
        ])
    }

    static func waitForSocket(_ path: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? RPCClient(socketPath: path, timeout: .seconds(1))) != nil { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw RPCClientError.notRunning(path: path, reason: "did not start within 10 s")
    }

    /// Waits until the daemon answers `ping`.
    static func waitForPing(_ path: String) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let client = try? RPCClient(socketPath: path, timeout: .seconds(1)),
               (try? client.call(.ping, as: PingResult.self)) != nil { return }
            Thread.sleep(forTimeInterval: 0.002)
        }
        throw RPCClientError.notRunning(path: path, reason: "did not answer ping within 10 s")
    }

    /// Wall time of one whole run of a command, in µs, from posix_spawn to waitpid (no waiter
    /// thread nor pipes, whose cost is not the command's).
    static func timeRun(_ path: String, _ arguments: [String]) throws -> Double {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let start = ContinuousClock.now
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard spawned == 0 else { throw RPCClientError.protocolError("cannot start \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let elapsed = Clock.microseconds(since: start)
        guard status == 0 else { throw RPCClientError.protocolError("\(path) exited with status \(status)") }
        return elapsed
    }

    /// SIGTERM, then how it ended (SIGKILL after 30 s).
    @discardableResult
    func stop() -> ExitStatus {
        if let status = child.exitStatus { return status }
        child.signal(SIGTERM)
        if let status = child.waitBlocking(within: .seconds(30)) { return status }
        child.signal(SIGKILL)
        return child.waitBlocking() ?? ExitStatus(signal: SIGKILL)
    }
}
