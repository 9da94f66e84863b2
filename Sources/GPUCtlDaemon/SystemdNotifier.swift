import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// systemd's notification protocol, spoken directly (no libsystemd): one datagram per message
/// to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace), with newline-separated `KEY=value` lines (`READY=1`, `STATUS=…`,
/// `WATCHDOG=1`, `STOPPING=1`). Without a socket every send is a no-op.
public struct SystemdNotifier: Sendable {
    /// `$NOTIFY_SOCKET`, nil when not started by systemd with Type=notify.
    public let socketPath: String?

    public init(socketPath: String?) {
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    public var isActive: Bool { socketPath != nil }

    /// Sends `fields` as one message; false when there is no socket or it failed (systemd
    /// then carries on without the news; the daemon never stops for that).
    @discardableResult
    public func send(_ fields: KeyValuePairs<String, String>) -> Bool {
        let text = fields.map { "\($0.key)=\($0.value.replacingOccurrences(of: "\n", with: " "))" }.joined(separator: "\n")
        return send(text: text)
    }

    @discardableResult
    public func send(text: String) -> Bool {
        guard let socketPath else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        // `@name` is Linux's abstract namespace: a leading NUL instead of the '@'.
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
            }
        }
        return sent == bytes.count
    }
}

/// What systemd handed the process, read once at the edge from the environment
/// (`LISTEN_FDS`/`LISTEN_PID` for socket activation, `NOTIFY_SOCKET`, `WATCHDOG_USEC`/`WATCHDOG_PID`).
public struct SystemdEnvironment: Sendable, Equatable {
    /// The first passed descriptor (3), when systemd passed sockets to this very process.
    public var listenFD: Int32?
    /// How many descriptors were passed (gpuctld uses one).
    public var listenFDCount = 0
    public var notifySocket: String?
    /// How often systemd expects `WATCHDOG=1`, when `WatchdogSec=` is set for this process.
    public var watchdogInterval: Duration?

    /// The first descriptor systemd passes (SD_LISTEN_FDS_START).
    public static let firstListenFD: Int32 = 3

    public init(listenFD: Int32? = nil, listenFDCount: Int = 0, notifySocket: String? = nil, watchdogInterval: Duration? = nil) {
        self.listenFD = listenFD
        self.listenFDCount = listenFDCount
        self.notifySocket = notifySocket
        self.watchdogInterval = watchdogInterval
    }

    /// `LISTEN_*` and `WATCHDOG_*` count only when their PID is this process's: a variable
    /// inherited from a parent that was itself activated is not for us.
    public init(environment: [String: String], pid: Int32 = getpid()) {
        if let count = environment["LISTEN_FDS"].flatMap(Int.init), count > 0,
           environment["LISTEN_PID"].flatMap(Int32.init) == pid {
            listenFD = Self.firstListenFD
            listenFDCount = count
        }
        notifySocket = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        if let micros = environment["WATCHDOG_USEC"].flatMap(UInt64.init), micros > 0,
           environment["WATCHDOG_PID"].map({ Int32($0) == pid }) ?? true {
            watchdogInterval = .microseconds(Int64(clamping: micros))
        }
    }

    /// Children started by gpuctld must not take the sockets for theirs.
    public static func forgetListenVariables() {
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDNAMES")
    }

    /// The path a passed Unix socket is bound to (what `status` and the logs show).
    public static func boundPath(of fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard named else { return nil }
        let path = withUnsafeBytes(of: address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return path.isEmpty ? nil : path
    }

    /// Checks that a passed descriptor is what gpuctld serves on: a listening Unix stream
    /// socket. Returns the problem as a sentence, nil when it is fine.
    public static func problem(withListener fd: Int32) -> String? {
        var type: Int32 = 0
        var accepting: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 else {
            return "systemd passed descriptor \(fd), which is not a socket (\(String(cString: strerror(errno))))"
        }
        size = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size)
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let family = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 ? Int32($0.pointee.sa_family) : -1 }
        }
        guard family == AF_UNIX, type == Int32(SOCK_STREAM.rawValue), accepting == 1 else {
            return "systemd passed descriptor \(fd), which is not a listening Unix stream socket; use ListenStream=/run/gpuctl/gpuctld.sock in gpuctld.socket"
        }
        return nil
    }
}
