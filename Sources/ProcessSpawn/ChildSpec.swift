/// What to run as a child process: a value with defaults, handed to `Child.spawn`.
public struct ChildSpec: Sendable {
    /// Where the child's standard input comes from.
    public enum Input: Sendable {
        /// /dev/null: the child reads end of file at once.
        case null
        /// These bytes, then end of file (written from a thread of its own, so a child that
        /// reads slowly never blocks the caller).
        case bytes([UInt8])
        /// A descriptor of the caller's, duplicated onto the child's standard input.
        case descriptor(Int32)
    }

    /// Where the child's standard output or error goes.
    public enum Output: Sendable {
        /// /dev/null.
        case discard
        /// A pipe read to its end on a thread of its own; `Child.output()` returns what came.
        case collect
        /// A descriptor of the caller's (a terminal, a file).
        case descriptor(Int32)
    }

    /// Which process group the child joins.
    public enum Group: Sendable {
        /// The caller's.
        case inherit
        /// `Lifeline`'s: the child is killed when this process ends, however it ends.
        case lifeline
        /// A new session with the child as its leader (a terminal program on a pseudo-terminal
        /// of its own: `stdin` then names the terminal, which becomes its controlling terminal).
        case newSession(terminal: String)
    }

    /// An absolute path, or a name looked up on PATH.
    public var executable: String
    public var arguments: [String]
    /// The whole environment of the child.
    public var environment: [String: String]
    /// The child's working directory; the caller's when nil.
    public var workingDirectory: String?
    public var input: Input = .null
    public var output: Output = .collect
    public var error: Output = .collect
    public var group: Group = .inherit
    /// Descriptors passed on beyond the standard three: the child's number → the caller's
    /// descriptor (a listening socket as systemd passes it on 3). Every other one is closed.
    public var descriptors: [Int32: Int32] = [:]

    /// `executable` with `arguments`, this process's environment and no input.
    public init(_ executable: String, _ arguments: [String] = [],
                environment: [String: String] = ChildSpec.currentEnvironment) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// This process's environment, read from `environ`.
    public static var currentEnvironment: [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// The full path of `name` on `path` (PATH when nil), if it is there and executable.
    public static func find(_ name: String, path: String? = nil) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let search = path ?? currentEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in search.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
