import Foundation

/// A built executable of this package run as a child process, as a user would run it.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let stdout = Pipe()
    private let stderr = Pipe()

    /// The folder holding the built products (beside the test bundle).
    public static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// Starts `product` (e.g. "gpuctld") with `arguments`, an environment without `GPUCTL_*`
    /// variables unless given, and `input` (or nothing) on its standard input.
    public init(_ product: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws {
        let url = Self.productsDirectory.appendingPathComponent(product)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: url.path])
        }
        process.executableURL = url
        process.arguments = arguments
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GPUCTL_") && $0.key != "NO_COLOR" }
        base.merge(environment) { $1 }
        process.environment = base
        process.standardOutput = stdout
        process.standardError = stderr
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the exit, at most `limit`; nil if it is still running then.
    public func waitForExit(within limit: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Everything written to stdout / stderr (call after exit).
    public var output: String { String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    public var errorOutput: String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }

    /// Runs a product to completion and returns its exit code and output.
    public static func run(_ product: String, _ arguments: [String], environment: [String: String] = [:],
                           input: String? = nil,
                           within limit: Duration = .seconds(30)) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try ChildProcess(product, arguments, environment: environment, input: input)
        // Read while it runs, so a full pipe never blocks it.
        async let out = blocking { child.output }
        async let err = blocking { child.errorOutput }
        let status = await child.waitForExit(within: limit)
        if status == nil { child.signal(SIGKILL) }
        return (status, try await out, try await err)
    }
}
