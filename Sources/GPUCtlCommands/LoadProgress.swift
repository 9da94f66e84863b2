import Foundation
import GPUCtlModels
import GPUCtlRPC

/// While a model loads, shows on a terminal (stderr) how long it has taken and how big the
/// model is; prints nothing when stderr is not a terminal, so pipes stay clean.
final class LoadProgress: @unchecked Sendable {
    private let thread: Thread

    /// Starts showing progress when `model` is not loaded yet (asks the daemon, quickly).
    static func start(for model: String, socketPath: String) -> LoadProgress? {
        guard isatty(STDERR_FILENO) == 1,
              let client = try? RPCClient(socketPath: socketPath, timeout: .seconds(2)),
              let list = try? client.call(.modelsList, as: ModelsListResult.self) else { return nil }
        let entry = list.models.first { $0.name == model || $0.aliases.contains(model) }
        guard entry?.state != "loaded" else { return nil }
        let size = entry?.footprint.map { " (\($0))" } ?? ""
        return LoadProgress(label: "loading \(entry?.name ?? model)\(size)")
    }

    private init(label: String) {
        let started = ContinuousClock.now
        let box = LockedFlag()
        self.flag = box
        let thread = Thread {
            while box.isSet {
                let elapsed = (ContinuousClock.now - started).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                FileHandle.standardError.write(Data("\r\(label)… \(String(format: "%.1f", seconds)) s".utf8))
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        self.thread = thread
        thread.start()
    }

    private let flag: LockedFlag

    /// Stops and clears the line; safe to call more than once.
    func stop() {
        guard flag.clear() else { return }
        Thread.sleep(forTimeInterval: 0.01)
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// A flag that starts set and is cleared once.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = true
    var isSet: Bool { lock.withLock { value } }
    /// Clears it; true the first time.
    func clear() -> Bool { lock.withLock { defer { value = false }; return value } }
}
