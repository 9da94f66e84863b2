import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport
import Logging
import Testing

/// The server over a real Unix socket, with a small handler: framing, limits, peers, shutdown.
@Suite(.timeLimit(.minutes(3))) struct RPCServerTests {
    struct TestHandler: RPCHandling {
        /// How many `slow` calls have started.
        let slowStarted = LockedBox(0)

        func answerImmediately(_ call: RPCCall) -> RPCReply? {
            call.method == "ping" ? .encoding(PingResult()) : nil
        }

        func handle(_ call: RPCCall, context: RPCCallContext) async -> RPCReply {
            switch call.method {
            case "echo":
                return .encoding(call.params ?? .null)
            case "slow":
                slowStarted.mutate { $0 += 1 }
                try? await Task.sleep(for: .milliseconds(300))
                return .encoding(["done": true])
            case "stream":
                for index in 0..<3 { context.stream(for: call.id ?? .null).send(Data("{\"n\":\(index)}".utf8)) }
                return .encoding(["count": 3])
            default:
                return .error(RPCErrorPayload(.methodNotFound, "method not found: '\(call.method)'"))
            }
        }
    }

    static func socketPath() -> String { "/tmp/gpuctl-rpc-\(UUID().uuidString.prefix(8)).sock" }

    func withServer(_ configure: (inout RPCServerConfiguration) -> Void = { _ in },
                    _ body: (RPCServer) async throws -> Void) async throws {
        var configuration = RPCServerConfiguration(socketPath: Self.socketPath())
        configure(&configuration)
        let server = try await RPCServer.start(configuration: configuration, handler: TestHandler(),
                                               logger: Logger(label: "test"))
        do {
            try await body(server)
        } catch {
            await server.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await server.shutdown(gracePeriod: .milliseconds(100))
    }

    func ping(_ path: String) async throws -> Bool {
        try await blocking { try RPCClient(socketPath: path, timeout: .seconds(5)).call(.ping, as: PingResult.self).pong }
    }

    func json(_ line: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: line) }

    @Test func socketIsGroupReadableOnly() async throws {
        try await withServer { server in
            let attributes = try FileManager.default.attributesOfItem(atPath: server.configuration.socketPath)
            #expect((attributes[.posixPermissions] as? Int) == 0o660)
        }
    }

    @Test func notificationsGetNoReplyAndStreamsComeBeforeTheResult() async throws {
        try await withServer { server in
            let path = server.configuration.socketPath
            try await blocking {
                let client = try RPCClient(socketPath: path)
                try client.send(Data(#"{"jsonrpc":"2.0","method":"echo","params":[1]}"#.utf8))
                var chunks: [String] = []
                let result = try client.callRaw("stream") { chunks.append(String(decoding: $0, as: UTF8.self)) }
                #expect(chunks == [#"{"n":0}"#, #"{"n":1}"#, #"{"n":2}"#])
                #expect(String(decoding: result, as: UTF8.self) == #"{"count":3}"#)
            }
        }
    }

    @Test func batchesAnswerInOneArray() async throws {
        try await withServer { server in
            let path = server.configuration.socketPath
            let line = try await blocking {
                let client = try RPCClient(socketPath: path)
                try client.send(Data(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"echo"},"x"]"#.utf8))
                return try client.readLine()
            }
            guard case .array(let replies) = try json(line) else {
                Issue.record("not an array")
                return
            }
            #expect(replies.count == 2)
            #expect(replies[0]["result"] == .object(["pong": .bool(true)]))
            #expect(replies[1]["error"]?["code"] == .number(-32600))
        }
    }

    @Test func anOverlongLineIsAnsweredThenClosed() async throws {
        try await withServer({ $0.maximumLineLength = 1024 }) { server in
            let path = server.configuration.socketPath
            let (line, closed) = try await blocking { () throws -> (Data, Bool) in
                let client = try RPCClient(socketPath: path)
                try client.sendRaw(Data(repeating: UInt8(ascii: "a"), count: 4096))
                let line = try client.readLine()
                return (line, (try? client.readLine()) == nil)
            }
            #expect(try json(line)["error"]?["data"]?["kind"] == .string("too_large"))
            #expect(closed)
            #expect(try await ping(server.configuration.socketPath))
        }
    }

    @Test func aLastLineWithoutNewlineIsStillARequest() async throws {
        try await withServer { server in
            let path = server.configuration.socketPath
            let line = try await blocking {
                let client = try RPCClient(socketPath: path)
                try client.sendRaw(Data(#"{"jsonrpc":"2.0","id":1,"method":"slow"}"#.utf8))
                client.finishWriting()
                return try client.readLine()
            }
            #expect(try json(line)["result"] == .object(["done": .bool(true)]))
        }
    }

    @Test func silentAndNonReadingClientsDoNotWedgeTheServer() async throws {
        try await withServer({ $0.writeStallTimeout = .milliseconds(500) }) { server in
            let path = server.configuration.socketPath
            let silent = try await blocking { try RPCClient(socketPath: path) }
            // A client that writes thousands of requests and never reads a reply.
            let sent = try await blocking { () throws -> Int in
                let greedy = try RPCClient(socketPath: path, timeout: .seconds(2))
                let line = Data(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":{"pad":"\#(String(repeating: "x", count: 1000))"}}"#.utf8) + Data("\n".utf8)
                var sent = 0
                do {
                    for _ in 0..<20_000 {
                        try greedy.sendRaw(line)
                        sent += 1
                    }
                } catch {
                    // The server stopped reading (backpressure) and the send timed out, or it hung up.
                }
                return sent
            }
            #expect(sent < 20_000)
            #expect(try await ping(path))
            _ = silent
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(200) }) { server in
            let path = server.configuration.socketPath
            let closed = try await blocking {
                (try? RPCClient(socketPath: path, timeout: .seconds(5)).readLine()) == nil
            }
            #expect(closed)
        }
    }

    @Test func aClientStalledOnHalfALineIsClosedWhenIdleAndOthersAreServedMeanwhile() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(300) }) { server in
            let path = server.configuration.socketPath
            let stalled = try await blocking { () throws -> RPCClient in
                let client = try RPCClient(socketPath: path, timeout: .seconds(5))
                try client.sendRaw(Data(#"{"jsonrpc":"2.0","id":1,"method":"ec"#.utf8))
                return client
            }
            #expect(try await ping(path))
            // Nothing more comes: the half line is never answered, and the connection is closed
            // (not merely silent until the client's own 5 s timeout).
            let ending = try await blocking { () -> String in
                do {
                    return "a line: \(String(decoding: try stalled.readLine(), as: UTF8.self))"
                } catch RPCClientError.closed {
                    return "closed"
                } catch {
                    return "\(error)"
                }
            }
            #expect(ending == "closed")
        }
    }

    @Test func forbiddenPeersAreToldAndClosed() async throws {
        try await withServer({ $0.peerPolicy = PeerPolicy(ownerUID: 4_000_000, allowRoot: false) }) { server in
            let path = server.configuration.socketPath
            let (line, closed) = try await blocking { () throws -> (Data, Bool) in
                let client = try RPCClient(socketPath: path)
                let line = try client.readLine()
                return (line, (try? client.readLine()) == nil)
            }
            let reply = try json(line)
            #expect(reply["error"]?["data"]?["kind"] == .string("forbidden"))
            #expect(reply["error"]?["code"] == .number(-32007))
            #expect(closed)
        }
    }

    /// A forbidden client that sends its request only after the refusal is already on its way
    /// (socat started under load does) still reads why, not a broken pipe or a reset.
    @Test func aForbiddenPeerThatWritesLateStillReadsWhy() async throws {
        try await withServer({ $0.peerPolicy = PeerPolicy(ownerUID: 4_000_000, allowRoot: false) }) { server in
            let path = server.configuration.socketPath
            let (sent, answer) = try await blocking { () throws -> (Int, String) in
                let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(fd) }
                var address = sockaddr_un()
                address.sun_family = sa_family_t(AF_UNIX)
                withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
                guard connected == 0 else { return (-1, "connect failed: \(String(cString: strerror(errno)))") }
                // The refusal has arrived (and the server would have closed by now) before a byte is sent.
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 10_000) == 1 else { return (-1, "no refusal within 10 s") }
                usleep(100_000)
                let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8) + [0x0A]
                let sent = send(fd, request, request.count, Int32(MSG_NOSIGNAL))
                guard sent > 0 else { return (sent, "send failed: \(String(cString: strerror(errno)))") }
                shutdown(fd, Int32(SHUT_WR))
                var received: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = recv(fd, &chunk, chunk.count, 0)
                    if count <= 0 { break }
                    received += chunk[..<count]
                }
                return (sent, String(decoding: received, as: UTF8.self))
            }
            #expect(sent > 0, "\(answer)")
            let reply = try json(Data((answer.split(separator: "\n").first ?? "").utf8))
            #expect(reply["error"]?["data"]?["kind"] == .string("forbidden"), "\(answer)")
        }
    }

    @Test func connectionsOverTheLimitAreRefused() async throws {
        try await withServer({ $0.maximumConnections = 2 }) { server in
            let path = server.configuration.socketPath
            let (clients, line) = try await blocking { () throws -> ([RPCClient], Data) in
                let first = try RPCClient(socketPath: path)
                let second = try RPCClient(socketPath: path)
                #expect(try first.call(.ping, as: PingResult.self).pong)
                #expect(try second.call(.ping, as: PingResult.self).pong)
                let third = try RPCClient(socketPath: path)
                return ([first, second, third], try third.readLine())
            }
            #expect(clients.count == 3)
            #expect(try json(line)["error"]?["data"]?["kind"] == .string("overloaded"))
        }
    }

    @Test func shutdownFinishesCallsInFlightAndRemovesTheSocket() async throws {
        let path = Self.socketPath()
        let handler = TestHandler()
        let server = try await RPCServer.start(configuration: RPCServerConfiguration(socketPath: path),
                                               handler: handler, logger: Logger(label: "test"))
        let slow = Task { try await blocking { try RPCClient(socketPath: path).callRaw("slow") } }
        #expect(await eventuallyTrue { handler.slowStarted.value == 1 })
        await server.shutdown(gracePeriod: .seconds(5))
        #expect(String(decoding: try await slow.value, as: UTF8.self) == #"{"done":true}"#)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aLiveSocketIsNotTakenOverAndAStaleOneIsReplaced() async throws {
        try await withServer { server in
            let path = server.configuration.socketPath
            await #expect {
                _ = try await RPCServer.start(configuration: RPCServerConfiguration(socketPath: path),
                                              handler: TestHandler(), logger: Logger(label: "test"))
            } throws: { error in
                (error as? SocketFileError)?.message.hasPrefix("another gpuctld is already serving \(path)") == true
            }
            let alive = try await ping(path)
            #expect(alive)
        }
        // A socket file nobody listens on, as a killed daemon leaves it.
        let stale = Self.socketPath()
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(stale.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        #expect(bound == 0 && FileManager.default.fileExists(atPath: stale))
        let server = try await RPCServer.start(configuration: RPCServerConfiguration(socketPath: stale),
                                               handler: TestHandler(), logger: Logger(label: "test"))
        #expect(try await ping(stale))
        await server.shutdown()
    }

    @Test func aRegularFileAtTheSocketPathIsNeverDeleted() async throws {
        let path = Self.socketPath()
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        await #expect {
            _ = try await RPCServer.start(configuration: RPCServerConfiguration(socketPath: path),
                                          handler: TestHandler(), logger: Logger(label: "test"))
        } throws: { error in
            (error as? SocketFileError)?.message == "\(path) exists and is not a socket; remove it or pass another --socket"
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        try FileManager.default.removeItem(atPath: path)
    }
}

func eventuallyTrue(within limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
