import Foundation
import ProcessSpawn

/// Runs a program with a deadline and collects its standard output.
enum CommandRunner {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
    }

    /// Runs `executable` with `arguments`; the process is killed if it outlives `timeout`.
    /// The child gets no descriptor of the daemon's (its sockets, its store) but its own pipes,
    /// and its exit is waited for on a thread of its own, whatever the daemon holds open.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws(GPUProbeError) -> Output {
        var spec = ChildSpec(executable, arguments)
        spec.error = .discard
        let result: Child.Result
        do {
            result = try await Child.run(spec, within: timeout)
        } catch {
            throw GPUProbeError(error.message)
        }
        // Killed (SIGKILL: a hung driver call may ignore SIGTERM) once past its deadline.
        guard let status = result.status else {
            throw GPUProbeError("\(executable) did not answer within \(timeout) and was stopped")
        }
        return Output(status: status.shellStatus, stdout: result.outputText)
    }

    /// The full path of `name` on PATH, if it is there and executable.
    static func find(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        ChildSpec.find(name, path: path ?? "/usr/bin:/bin")
    }
}
