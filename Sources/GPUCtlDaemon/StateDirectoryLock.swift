#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An exclusive lock on the state directory, so two daemons never share one store and one card.
/// Held (by an open descriptor) for the daemon's life; the kernel drops it if the daemon dies.
final class StateDirectoryLock: Sendable {
    private let fd: Int32
    let path: String

    init(directory: String) throws(ConfigurationError) {
        path = (directory as NSString).appendingPathComponent("gpuctld.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw ConfigurationError("cannot create \(path) (\(String(cString: strerror(errno)))); check that the daemon's user can write the state directory")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &holder, holder.count, 0)
            close(fd)
            let pid = count > 0 ? String(decoding: holder[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw ConfigurationError("another gpuctld (pid \(pid)) already uses the state directory \(directory); stop it, or pass another --state-dir")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
