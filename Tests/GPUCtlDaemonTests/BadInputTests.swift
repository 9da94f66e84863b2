import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Every bad input of the protocol, sent over the daemon's real socket; after each, the daemon
/// must still answer `ping`, on the same connection where it stays open and on a new one.
@Suite(.timeLimit(.minutes(3))) struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: Data
        var code: Int
        var kind: RPCErrorKind
        var closes = false
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "invalid JSON", bytes: Data(#"{"jsonrpc":"2.0","id":1,"method":"#.utf8), code: -32700, kind: .parseError),
        Case(name: "binary garbage", bytes: Data([0x00, 0xFF, 0xFE, 0x80, 0x1B, 0x5B, 0x32, 0x4A, 0xC3, 0x28]), code: -32700, kind: .parseError),
        Case(name: "a number, not an object", bytes: Data("42".utf8), code: -32600, kind: .invalidRequest),
        Case(name: "a string, not an object", bytes: Data(#""ping""#.utf8), code: -32600, kind: .invalidRequest),
        Case(name: "missing jsonrpc", bytes: Data(#"{"id":1,"method":"ping"}"#.utf8), code: -32600, kind: .invalidRequest),
        Case(name: "jsonrpc 1.0", bytes: Data(#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#.utf8), code: -32600, kind: .invalidRequest),
        Case(name: "method not a string", bytes: Data(#"{"jsonrpc":"2.0","id":1,"method":["ping"]}"#.utf8), code: -32600, kind: .invalidRequest),
        Case(name: "unknown method", bytes: Data(#"{"jsonrpc":"2.0","id":1,"method":"models.frobnicate"}"#.utf8), code: -32601, kind: .methodNotFound),
        Case(name: "wrong params", bytes: Data(#"{"jsonrpc":"2.0","id":1,"method":"status","params":{"verbose":true}}"#.utf8), code: -32602, kind: .invalidParams),
        Case(name: "params not structured", bytes: Data(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":7}"#.utf8), code: -32602, kind: .invalidParams),
        Case(name: "empty batch", bytes: Data("[]".utf8), code: -32600, kind: .invalidRequest),
        Case(name: "deeply nested JSON", bytes: Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
             code: -32700, kind: .parseError),
        Case(name: "a line over 8 MiB", bytes: Data(repeating: UInt8(ascii: "x"), count: 8 * 1024 * 1024 + 10),
             code: -32600, kind: .tooLarge, closes: true),
    ]

    @Test(arguments: cases)
    func badInputIsAnsweredAndTheDaemonStillServes(_ testCase: Case) async throws {
        let daemon = try await TestDaemon.start()
        let path = daemon.socketPath
        let stillOpen = try await blocking { () throws -> Bool in
            let client = try RPCClient(socketPath: path)
            try client.send(testCase.bytes)
            let reply = try JSONDecoder().decode(JSONValue.self, from: try client.readLine())
            #expect(reply["jsonrpc"] == .string("2.0"))
            #expect(reply["error"]?["code"] == .number(Double(testCase.code)))
            #expect(reply["error"]?["data"]?["kind"] == .string(testCase.kind.rawValue))
            #expect(reply["error"]?["message"]?.stringValue?.isEmpty == false)
            if testCase.closes {
                #expect(throws: RPCClientError.self) { _ = try client.readLine() }
                return false
            }
            return try client.call(.ping, as: PingResult.self).pong
        }
        #expect(stillOpen != testCase.closes)
        let pong = try await blocking { try RPCClient(socketPath: path).call(.ping, as: PingResult.self).pong }
        #expect(pong)
        try await daemon.stop()
    }

    @Test func aClientThatNeverWritesHoldsNothing() async throws {
        let daemon = try await TestDaemon.start()
        let path = daemon.socketPath
        let silent = try await blocking { try (0..<20).map { _ in try RPCClient(socketPath: path) } }
        let pong = try await blocking { try RPCClient(socketPath: path).call(.ping, as: PingResult.self).pong }
        #expect(pong && silent.count == 20)
        try await daemon.stop()
    }

    @Test func aClientThatNeverReadsIsThrottledNotServedForever() async throws {
        let daemon = try await TestDaemon.start()
        let path = daemon.socketPath
        let sent = try await blocking { () -> Int in
            let greedy = try RPCClient(socketPath: path, timeout: .seconds(2))
            let line = Data("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}\n".utf8)
            var sent = 0
            do {
                for _ in 0..<200_000 {
                    try greedy.sendRaw(line)
                    sent += 1
                }
            } catch {}
            return sent
        }
        // Backpressure: the daemon stopped reading long before 200,000 requests.
        #expect(sent < 200_000)
        let pong = try await blocking { try RPCClient(socketPath: path).call(.ping, as: PingResult.self).pong }
        #expect(pong)
        try await daemon.stop()
    }

    @Test func aClientThatHangsUpMidRequestIsForgotten() async throws {
        let daemon = try await TestDaemon.start()
        let path = daemon.socketPath
        try await blocking {
            for _ in 0..<50 {
                let client = try RPCClient(socketPath: path)
                try client.sendRaw(Data(#"{"jsonrpc":"2.0","id":1,"method":"sta"#.utf8))
            }
        }
        let pong = try await blocking { try RPCClient(socketPath: path).call(.ping, as: PingResult.self).pong }
        #expect(pong)
        try await daemon.stop()
    }
}
