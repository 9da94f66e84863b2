import Foundation
import ProcessSpawn

/// A built executable of this package run as a child process, as a user would run it. Every
/// such child joins the `Lifeline` group (it dies with the test process, however that ends)
/// and is killed when this object is released, so no test leaves one running.
public final class ChildProcess: Sendable {
    public let child: Child

    /// The folder holding the built products (beside the test bundle).
    public static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// This process's environment without `GPUCTL_*` and `NO_COLOR`, with `environment` on top.
    public static func environment(adding environment: [String: String]) -> [String: String] {
        ChildSpec.currentEnvironment.filter { !$0.key.hasPrefix("GPUCTL_") && $0.key != "NO_COLOR" }
            .merging(environment) { $1 }
    }

    /// Starts `product` (e.g. "gpuctld") with `arguments`, an environment without `GPUCTL_*`
    /// variables unless given, and `input` (or nothing) on its standard input.
    public convenience init(_ product: String, _ arguments: [String], environment: [String: String] = [:],
                            input: String? = nil) throws {
        let path = Self.productsDirectory.appendingPathComponent(product).path
        try self.init(command: [path] + arguments, environment: Self.environment(adding: environment), input: input)
    }

    /// Starts any program (`command[0]`, a path or a name on PATH) with exactly `environment`.
    /// `descriptors` passes descriptors of this process on (the child's number → ours).
    public init(command: [String], environment: [String: String], input: String? = nil,
                workingDirectory: String? = nil, descriptors: [Int32: Int32] = [:]) throws {
        var spec = ChildSpec(command[0], Array(command.dropFirst()), environment: environment)
        spec.input = input.map { .bytes(Array($0.utf8)) } ?? .null
        spec.workingDirectory = workingDirectory
        spec.group = .lifeline
        spec.descriptors = descriptors
        child = try Child.spawn(spec)
    }

    public var pid: Int32 { child.pid }

    public func signal(_ number: Int32) { child.signal(number) }

    /// Waits for the exit, at most `limit`; its status as a shell reports it, or nil if it is
    /// still running then.
    public func waitForExit(within limit: Duration = .seconds(30)) async -> Int32? {
        await child.wait(within: limit)?.shellStatus
    }

    /// Everything written to stdout / stderr (waits for both to reach their end).
    public var output: String { String(decoding: child.outputBlocking(within: .seconds(60))?.output ?? [], as: UTF8.self) }
    public var errorOutput: String { String(decoding: child.outputBlocking(within: .seconds(60))?.error ?? [], as: UTF8.self) }

    /// The same, awaited without holding a thread.
    public func streams(within limit: Duration = .seconds(60)) async -> (stdout: String, stderr: String) {
        let streams = await child.output(within: limit) ?? ([], [])
        return (String(decoding: streams.output, as: UTF8.self), String(decoding: streams.error, as: UTF8.self))
    }

    /// Runs a product to completion and returns its exit code and output; one that outlives
    /// `limit` is killed and has no status.
    public static func run(_ product: String, _ arguments: [String], environment: [String: String] = [:],
                           input: String? = nil,
                           within limit: Duration = .seconds(30)) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try ChildProcess(product, arguments, environment: environment, input: input)
        return await child.finish(within: limit)
    }

    /// Runs any program to completion the same way.
    public static func run(command: [String], environment: [String: String], input: String? = nil,
                           workingDirectory: String? = nil,
                           within limit: Duration = .seconds(60)) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let child = try ChildProcess(command: command, environment: environment, input: input, workingDirectory: workingDirectory)
        return await child.finish(within: limit)
    }

    /// Waits for the exit (killing it after `limit`) and for its output.
    public func finish(within limit: Duration) async -> (status: Int32?, stdout: String, stderr: String) {
        let status = await waitForExit(within: limit)
        if status == nil {
            signal(SIGKILL)
            _ = await child.wait()
        }
        let (out, err) = await streams(within: status == nil ? .seconds(1) : .seconds(30))
        return (status, out, err)
    }
}
