import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// Runs a Hummingbird application on 127.0.0.1 (port 0 the first time), and can stop and
/// start it again on the same port, so a test can make a backend go away and come back.
public final class FakeHTTPServer: Sendable {
    /// Called with the bound channel once the server runs; the application must pass it on
    /// as its `onServerRunning`.
    public typealias ServerRunning = @Sendable (any Channel) async -> Void
    private let build: @Sendable (Int, @escaping ServerRunning, TrackedConnections) -> any ApplicationProtocol
    private let state = LockedBox<(task: Task<Void, Error>?, group: ServiceGroup?, port: Int)>((nil, nil, 0))
    private let connections = TrackedConnections()

    /// `build(port, onServerRunning, connections)` makes the application for a port (0: any
    /// free one); its server's child channel must be wrapped in `connections.tracking(_:)`.
    public init(build: @escaping @Sendable (Int, @escaping ServerRunning, TrackedConnections) -> any ApplicationProtocol) {
        self.build = build
    }

    /// The bound port (0 before the first start).
    public var port: Int { state.value.port }
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// True between `start()` and `stop()`.
    public var isServing: Bool { state.value.task != nil }

    /// Starts serving; returns once the port accepts connections, or throws why it could not
    /// (a port taken while the server was stopped), never waiting for a port that never comes.
    public func start() async throws {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = build(port, { channel in
            if let port = channel.localAddress?.port { continuation.yield(port) }
        }, connections)
        // Stopped by graceful shutdown, not cancellation: the server stops accepting first, so a
        // connection arriving mid-stop is never dropped half set up (which NIO treats as a bug).
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "fake", factory: { _ in SwiftLogNoOpLogHandler() })))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = stream.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await task.value
            throw FakeServerError(message: "the fake server stopped before it served")
        }
        state.mutate { $0 = (task, group, port) }
    }

    /// Stops serving: the port then refuses connections. A graceful shutdown waits for every
    /// open connection to end, and a WebSocket only ends when one side closes it: while the
    /// server stops, `closeLongLived` is called again and again, so that a socket a client
    /// opened just before the listener closed cannot keep the server (and the test) waiting.
    public func stop(closeLongLived: (@Sendable () async -> Void)? = nil) async {
        let (task, group) = state.mutate { current -> (Task<Void, Error>?, ServiceGroup?) in
            defer {
                current.task = nil
                current.group = nil
            }
            return (current.task, current.group)
        }
        guard let task, let group else { return }
        await group.triggerGracefulShutdown()
        await withTaskGroup(of: Void.self) { waiters in
            if let closeLongLived {
                waiters.addTask {
                    while !Task.isCancelled {
                        await closeLongLived()
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            // A client that connected while the listener was closing (the daemon's /ws
            // reconnect, a probe) can be caught half upgraded where no graceful shutdown
            // reaches it: past a grace period its connection is closed from here. Never by
            // cancelling the server (see TrackedConnections).
            waiters.addTask { [connections] in
                try? await Task.sleep(for: .seconds(2))
                while !Task.isCancelled {
                    connections.closeAll()
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            _ = await task.result
            waiters.cancelAll()
        }
    }
}

/// A fake server that could not start.
public struct FakeServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A value behind a lock, for state shared between a test and its fake servers.
public final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value { lock.withLock { stored } }

    @discardableResult
    public func mutate<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&stored) }
    }
}

extension Response {
    /// A JSON body with the content type both backends use.
    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func text(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
