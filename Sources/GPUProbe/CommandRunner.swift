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
        // The blocking read and wait run on a thread of their own: never on the cooperative pool,
        // which has as few threads as cores, nor on Dispatch's global queues, which on Linux run
        // only as many blocks at once. Whichever comes first, exit or deadline, answers.
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Data?, Never>) in
            let once = OnceFlag()
            Thread {
                let data = stdout.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                if once.claim() { continuation.resume(returning: data) }
            }.start()
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                guard once.claim() else { return }
                // SIGKILL: a hung driver call may ignore SIGTERM.
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                continuation.resume(returning: nil)
            }
        }
        guard let data = outcome else {
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

/// True for the first caller of `claim()` only.
private final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}
