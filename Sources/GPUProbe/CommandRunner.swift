import Foundation

/// Runs a program with a deadline and collects its standard output.
enum CommandRunner {
    struct Output: Sendable {
        var status: Int32
        var stdout: String
    }

    /// Runs `executable` with `arguments`; the process is killed if it outlives `timeout`.
    static func run(_ executable: String, _ arguments: [String], timeout: Duration) async throws(GPUProbeError) -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw GPUProbeError("could not start \(executable): \(error.localizedDescription)")
        }
        let reader = Task.detached { stdout.fileHandleForReading.readDataToEndOfFile() }
        let killed = KilledFlag()
        let killer = Task.detached {
            try await Task.sleep(for: timeout)
            if process.isRunning {
                killed.set()
                process.terminate()
            }
        }
        let data = await reader.value
        process.waitUntilExit()
        killer.cancel()
        if killed.value {
            throw GPUProbeError("\(executable) did not answer within \(timeout) and was stopped")
        }
        return Output(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self))
    }

    /// The full path of `name` on PATH, if it is there and executable.
    static func find(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for directory in (path ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// Set by the timer that stopped a process, read after it exits.
private final class KilledFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var killed = false
    func set() { lock.withLock { killed = true } }
    var value: Bool { lock.withLock { killed } }
}
