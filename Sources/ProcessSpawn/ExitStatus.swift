/// How a child ended: with an exit code, or killed by a signal.
public struct ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// The exit code, when it exited.
    public let code: Int32?
    /// The signal that ended it, when one did.
    public let signal: Int32?

    public init(code: Int32) { self.code = code; self.signal = nil }
    public init(signal: Int32) { self.code = nil; self.signal = signal }

    /// Decodes a `waitpid` status.
    init(waitStatus status: Int32) {
        if status & 0x7f == 0 { self.init(code: (status >> 8) & 0xff) } else { self.init(signal: status & 0x7f) }
    }

    /// As a shell reports it: the code, or 128 plus the signal.
    public var shellStatus: Int32 { code ?? 128 + (signal ?? 0) }

    public var description: String { code.map { "exit \($0)" } ?? "signal \(signal ?? 0)" }
}
