#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why the server could not take its socket path.
public struct SocketFileError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Prepares a socket path before binding: refuses when a live daemon answers there, removes
/// a stale socket left by a dead one, and never deletes anything that is not a socket.
public enum SocketFile {
    public static func prepare(path: String) throws(SocketFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o755])
            } catch {
                throw SocketFileError("cannot create the socket directory \(directory) (\(error.localizedDescription)); create it or pass --socket")
            }
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw SocketFileError("\(path) exists and is not a socket; remove it or pass another --socket")
        }
        switch probe(path) {
        case .live:
            throw SocketFileError("another gpuctld is already serving \(path); stop it first (gpuctl --socket \(path) status shows it), or pass another --socket")
        case .stale:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketFileError("cannot remove the stale socket \(path) (\(String(cString: strerror(errno)))); remove it by hand")
            }
        }
    }

    enum Liveness { case live, stale }

    /// Whether something accepts connections on the socket path.
    static func probe(_ path: String) -> Liveness {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .stale }
        defer { close(fd) }
        var address = sockaddr_un()
        guard UnixAddress.fill(&address, path: path) else { return .stale }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0 ? .live : .stale
    }

    /// Sets the socket's mode and, when an allowed group is given, its group, so that members can connect.
    public static func setAccess(path: String, mode: UInt32, group: UInt32?) throws(SocketFileError) {
        if let group, chown(path, UInt32.max, group) != 0 {
            throw SocketFileError("cannot give the socket \(path) to group \(group) (\(String(cString: strerror(errno)))); run the daemon as a member of that group")
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw SocketFileError("cannot set mode \(String(mode, radix: 8)) on \(path) (\(String(cString: strerror(errno))))")
        }
    }
}

/// Fills a sockaddr_un; shared by the server's probe and the client.
enum UnixAddress {
    static func fill(_ address: inout sockaddr_un, path: String) -> Bool {
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return true
    }
}
