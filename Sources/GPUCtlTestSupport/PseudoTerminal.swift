import Foundation
import NIOConcurrencyHelpers
import ProcessSpawn

/// A built product run on a pseudo-terminal, as a user runs it in a terminal window: the
/// terminal is its controlling terminal (it leads a session of its own), its output is read
/// from the master side, keys are typed into it, the window can be resized or closed.
public final class PseudoTerminal: Sendable {
    /// The master side; only the reader thread closes it, after `hangUp` or the end of the
    /// child, so its number is never reused while something still reads or writes it.
    private let master: Int32
    /// Kept open so the terminal's modes can be read after the child changed them.
    private let slave: Int32
    private let child: Child
    /// Written to make the reader close the master side (`hangUp`).
    private let wake: (read: Int32, write: Int32)
    private let received = NIOLockedValueBox<[UInt8]>([])
    private let masterOpen = NIOLockedValueBox(true)

    public var pid: pid_t { child.pid }

    /// TIOCSPTLCK and TIOCGPTN (asm-generic/ioctls.h).
    private static let setLock: UInt = 0x4004_5431
    private static let getNumber: UInt = 0x8004_5430

    public init(_ product: String, _ arguments: [String], environment: [String: String] = [:],
                columns: UInt16 = 100, rows: UInt16 = 30) throws {
        // posix_openpt and friends are not in Swift's Glibc module: /dev/ptmx and Linux's ioctls.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, Self.setLock, &unlock) == 0, ioctl(master, Self.getNumber, &number) == 0 else {
            if master >= 0 { close(master) }
            throw POSIXError(.ENODEV)
        }
        let terminal = "/dev/pts/\(number)"
        let slave = open(terminal, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0, let wake = CloseOnExecPipe() else {
            close(master)
            if slave >= 0 { close(slave) }
            throw POSIXError(.ENODEV)
        }
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        var environment = ChildProcess.environment(adding: environment)
        if environment["TERM"] == nil { environment["TERM"] = "xterm-256color" }
        var spec = ChildSpec(ChildProcess.productsDirectory.appendingPathComponent(product).path, arguments,
                             environment: environment)
        spec.group = .newSession(terminal: terminal)
        do {
            child = try Child.spawn(spec)
        } catch {
            [master, slave, wake.read, wake.write].forEach { close($0) }
            throw error
        }
        self.master = master
        self.slave = slave
        self.wake = (wake.read, wake.write)
        Thread.detachNewThread { [received, masterOpen, wake] in
            Self.read(master: master, wake: wake.read, into: received)
            masterOpen.withLockedValue { open in
                open = false
                close(master)
            }
            close(wake.read)
        }
    }

    /// Reads the master side until the terminal is gone (EIO once no process has the slave
    /// side open) or `hangUp` asks to stop.
    private static func read(master: Int32, wake: Int32, into received: NIOLockedValueBox<[UInt8]>) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 { return }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            received.withLockedValue { $0.append(contentsOf: buffer[..<count]) }
        }
    }

    /// Everything written to the terminal so far, escape sequences included.
    public var output: String { String(decoding: received.withLockedValue { $0 }, as: UTF8.self) }

    /// Types `text` as if on the keyboard.
    public func type(_ text: String) {
        masterOpen.withLockedValue { open in
            guard open else { return }
            _ = text.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count - 1) }
        }
    }

    /// Resizes the window and tells the program, as a terminal emulator does.
    public func resize(columns: UInt16, rows: UInt16) {
        masterOpen.withLockedValue { open in
            guard open else { return }
            var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        }
        child.signal(SIGWINCH)
    }

    /// Closes the window: the master side is closed, so the kernel hangs the terminal up
    /// (SIGHUP to the program, then EIO on every read and write of it).
    public func hangUp() async {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        _ = await eventually(within: .seconds(10)) { !self.masterOpen.withLockedValue { $0 } }
    }

    /// Whether the terminal echoes typed keys and reads whole lines (its normal modes).
    public var isInNormalMode: Bool {
        var modes = termios()
        guard tcgetattr(slave, &modes) == 0 else { return false }
        return modes.c_lflag & tcflag_t(ECHO) != 0 && modes.c_lflag & tcflag_t(ICANON) != 0
    }

    public func signal(_ number: Int32) { child.signal(number) }

    /// Waits for the exit, at most `limit`; its status as a shell reports it, or nil (then it is killed).
    public func waitForExit(within limit: Duration = .seconds(20)) async -> Int32? {
        if let status = await child.wait(within: limit) { return status.shellStatus }
        child.signal(SIGKILL)
        return nil
    }

    /// CPU time the program has used so far (user + system, from /proc), while it is not yet reaped.
    public var cpuSeconds: Double? { child.cpuSeconds }

    deinit {
        // The child first (the Child's release would kill it too), then the terminal.
        child.signal(SIGKILL)
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        close(wake.write)
        close(slave)
    }
}
