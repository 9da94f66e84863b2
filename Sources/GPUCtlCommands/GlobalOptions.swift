import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// Options every command takes.
public struct GlobalOptions: ParsableArguments {
    @Option(help: "The daemon's socket (default: $GPUCTL_SOCKET, $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, /run/gpuctl/gpuctld.sock).")
    public var socket: String?

    @Flag(help: "Print the daemon's raw JSON result.")
    public var json = false

    @Option(help: "Seconds to wait for the daemon's answer (default 10; 900 for loads and inference).")
    public var timeout: Double?

    public init() {}

    /// Runs once the arguments are parsed: from here on, errors are printed as JSON too.
    public mutating func validate() throws {
        Output.jsonErrors = json
    }

    /// The socket path, resolved as the daemon resolves it.
    public var socketPath: String {
        SocketPath.resolve(flag: socket, environment: ProcessInfo.processInfo.environment)
    }

    /// Connects, or prints why not and exits with the documented code.
    /// `slow` commands (loads, inference) wait longer by default: a model load can take minutes.
    /// `waitSeconds`, when given, is the default instead (a job followed to its end).
    func connect(slow: Bool = false, waitSeconds: Double? = nil) throws -> RPCClient {
        let seconds = timeout ?? waitSeconds ?? (slow ? 900 : 10)
        do {
            return try RPCClient(socketPath: socketPath, timeout: .milliseconds(Int(max(seconds, 0.001) * 1000)))
        } catch {
            throw CLIExit.fail(error)
        }
    }
}

extension GlobalOptions {
    /// Calls `method` and prints its raw result with --json, or `render`'s text otherwise:
    /// the shape of every read-only command.
    func show<Result: Decodable>(_ method: RPCMethod, as type: Result.Type, render: (Result) -> String) throws {
        let client = try connect()
        if json {
            Output.printJSON(try CLIExit.run { () throws(RPCClientError) in try client.callRaw(method.rawValue) })
            return
        }
        let result = try CLIExit.run { () throws(RPCClientError) in try client.call(method, as: type) }
        Output.print(render(result))
    }
}

/// The CLI's exit codes (documented in the README).
public enum ExitCodes {
    /// The daemon answered with an error.
    public static let daemonError: Int32 = 1
    /// Bad arguments (ArgumentParser's EX_USAGE).
    public static let usage: Int32 = 64
    /// The daemon is not running, or the socket may not be used (EX_UNAVAILABLE).
    public static let unavailable: Int32 = 69
    /// The daemon's reply could not be read (EX_SOFTWARE).
    public static let protocolError: Int32 = 70
    /// The daemon did not answer in time (EX_TEMPFAIL).
    public static let timeout: Int32 = 75
}

/// Prints an error as one line on stderr and picks the exit code.
enum CLIExit {
    static func fail(_ error: RPCClientError) -> ExitCode {
        FileHandle.standardError.write(Data("gpuctl: \(error.message)\n".utf8))
        if Output.jsonErrors, let data = try? JSONEncoder.rpc.encode(["error": payload(for: error)]) {
            Output.printJSON(data)
        }
        return ExitCode(code(for: error))
    }

    /// The error as the daemon would have sent it; errors of the client itself get kinds of
    /// their own (`not_running`, `forbidden`, `timeout`, `closed`, `protocol_error`).
    static func payload(for error: RPCClientError) -> RPCErrorPayload {
        switch error {
        case .remote(let payload): payload
        case .notRunning: RPCErrorPayload(.notRunning, error.message)
        case .permissionDenied: RPCErrorPayload(.forbidden, error.message)
        case .timedOut: RPCErrorPayload(.timeout, error.message)
        case .closed: RPCErrorPayload(.closed, error.message)
        case .protocolError: RPCErrorPayload(.protocolError, error.message)
        }
    }

    static func code(for error: RPCClientError) -> Int32 {
        switch error {
        case .notRunning, .permissionDenied: ExitCodes.unavailable
        case .timedOut: ExitCodes.timeout
        case .closed, .protocolError: ExitCodes.protocolError
        case .remote: ExitCodes.daemonError
        }
    }

    /// Runs `body`, turning client errors into one line and an exit code.
    static func run<T>(_ body: () throws(RPCClientError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw fail(error)
        }
    }
}

/// Writes to stdout without buffering surprises.
enum Output {
    static func print(_ text: String) {
        write(Array((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    /// Writes text as it comes (streamed tokens), with no newline added.
    static func write(_ text: String) {
        write(Array(text.utf8))
    }

    static func printJSON(_ data: Data) {
        write(Array(data) + [0x0A])
    }

    /// Writes all of `bytes` to standard output. When nobody reads it any more (a closed pipe
    /// whose SIGPIPE is ignored, a terminal that hung up) the command ends at once, quietly,
    /// with EX_IOERR: a follower of a stream never keeps running with nowhere to write.
    static func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { _exit(74) }
            offset += written
        }
    }

    /// Set from --json once arguments are parsed: errors are then printed as JSON on stdout
    /// (`{"error": {...}}`) besides the sentence on stderr.
    nonisolated(unsafe) static var jsonErrors = false

    /// Colours only on a terminal, and never when NO_COLOR is set.
    static var useColor: Bool {
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }
}
