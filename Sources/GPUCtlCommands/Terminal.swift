import Foundation

/// The terminal `gpuctl top` draws on: its size, the alternate screen, keys without Enter,
/// and signals turned into bytes on a pipe (so the main loop restores the terminal itself,
/// whatever ends it).
final class Terminal {
    private var saved = termios()
    private var changedModes = false
    /// Signals arrive here as one byte each (the signal number).
    let signals: Int32
    /// Whether keys are read from standard input (it is a terminal).
    private let readsKeys = isatty(STDIN_FILENO) == 1
    /// Set once the terminal is gone: a read of it ended (0 or EIO, as after a hang-up) or a
    /// write to the screen failed (EIO, EPIPE). Nothing is left to draw on: the caller ends.
    private(set) var isGone = false

    init() {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
        signals = fds[0]
        terminalSignalPipe = fds[1]
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGWINCH] {
            signal(number) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = Glibc.write(terminalSignalPipe, &byte, 1)
            }
            sigaddset(&set, number)
        }
        // A parent may have left them blocked (the mask is inherited across exec).
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }

    /// Columns and rows of standard output; 80×24 when it is not a terminal.
    static func size() -> (columns: Int, rows: Int) {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return (80, 24) }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// The alternate screen, no cursor, keys read one at a time without echo.
    func enter() {
        if isatty(STDIN_FILENO) == 1, tcgetattr(STDIN_FILENO, &saved) == 0 {
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                cc[Int(VMIN)] = 0
                cc[Int(VTIME)] = 0
            }
            changedModes = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0
        }
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    /// Puts everything back as it was.
    func restore() {
        write("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        if changedModes { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
        changedModes = false
    }

    /// Replaces the screen with `lines`, top-left first.
    func draw(_ lines: [String]) {
        write("\u{1B}[H" + lines.joined(separator: "\u{1B}[K\r\n") + "\u{1B}[K\u{1B}[J")
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                isGone = true
                return
            }
            offset += written
        }
    }

    /// What happened within `timeout`: keys typed, and signals received. A terminal that
    /// hung up sets `isGone` (poll would report it at once, every time: never a busy loop).
    func wait(milliseconds timeout: Int32) -> (keys: [UInt8], signals: [Int32]) {
        var fds = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: readsKeys && !isGone ? STDIN_FILENO : -1, events: Int16(POLLIN), revents: 0)]
        guard poll(&fds, 2, timeout) > 0 else { return ([], []) }
        var buffer = [UInt8](repeating: 0, count: 64)
        var keys: [UInt8] = []
        var received: [Int32] = []
        if fds[1].revents != 0 {
            let count = read(STDIN_FILENO, &buffer, buffer.count)
            if count > 0 {
                keys = Array(buffer[..<count])
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                isGone = true
            }
        }
        if fds[0].revents & Int16(POLLIN) != 0 {
            let count = read(signals, &buffer, buffer.count)
            if count > 0 { received = buffer[..<count].map { Int32($0) } }
        }
        return (keys, received)
    }
}

/// The write end of `Terminal.signals`, for the signal handler (which can capture nothing).
nonisolated(unsafe) private var terminalSignalPipe: Int32 = -1
