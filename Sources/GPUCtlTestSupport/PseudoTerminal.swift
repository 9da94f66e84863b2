import Foundation
import NIOConcurrencyHelpers

/// A built product run on a pseudo-terminal, as a user runs it in a terminal window: its
/// output is read from the master side, keys are typed into it, the window can be resized.
public final class PseudoTerminal: Sendable {
    private let master: Int32
    /// Kept open so the terminal's modes can be read after the child changed them.
    private let slave: Int32
    public let pid: pid_t
    private let received = NIOLockedValueBox<[UInt8]>([])

    /// TIOCSPTLCK and TIOCGPTN (asm-generic/ioctls.h).
    private static let setLock: UInt = 0x4004_5431
    private static let getNumber: UInt = 0x8004_5430

    public init(_ product: String, _ arguments: [String], environment: [String: String] = [:],
                columns: UInt16 = 100, rows: UInt16 = 30) throws {
        // posix_openpt and friends are not in Swift's Glibc module: /dev/ptmx and Linux's ioctls.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, Self.setLock, &unlock) == 0, ioctl(master, Self.getNumber, &number) == 0 else {
            throw POSIXError(.ENODEV)
        }
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw POSIXError(.ENODEV) }
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for target in Int32(0)...2 { posix_spawn_file_actions_adddup2(&actions, slave, target) }
        // Nothing else of this process goes to the child: an inherited write end of another
        // test's pipe would keep that test waiting for end of file until this child exits.
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for descriptor in open where descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        let path = ChildProcess.productsDirectory.appendingPathComponent(product).path
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GPUCTL_") && $0.key != "NO_COLOR" }
        base["TERM"] = "xterm-256color"
        base.merge(environment) { $1 }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = base.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 else { throw POSIXError(.ENOEXEC) }
        self.master = master
        self.slave = slave
        self.pid = pid
        let thread = Thread { [received] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(master, &buffer, buffer.count)
                guard count > 0 else { return }
                received.withLockedValue { $0.append(contentsOf: buffer[..<count]) }
            }
        }
        thread.start()
    }

    /// Everything written to the terminal so far, escape sequences included.
    public var output: String { String(decoding: received.withLockedValue { $0 }, as: UTF8.self) }

    /// Types `text` as if on the keyboard.
    public func type(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count - 1) }
    }

    /// Resizes the window and tells the program, as a terminal emulator does.
    public func resize(columns: UInt16, rows: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        kill(pid, SIGWINCH)
    }

    /// Whether the terminal echoes typed keys and reads whole lines (its normal modes).
    public var isInNormalMode: Bool {
        var modes = termios()
        guard tcgetattr(slave, &modes) == 0 else { return false }
        return modes.c_lflag & tcflag_t(ECHO) != 0 && modes.c_lflag & tcflag_t(ICANON) != 0
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit, at most `limit`; its status, or nil (then it is killed).
    public func waitForExit(within limit: Duration = .seconds(20)) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        return nil
    }

    deinit {
        close(master)
        close(slave)
    }
}
