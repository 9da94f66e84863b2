import Foundation
import GPUCtlModels
import GPUCtlRPC
import Testing

@Suite(.timeLimit(.minutes(3))) struct RPCMessageTests {
    func single(_ text: String) -> RPCIncoming? {
        if case .single(let incoming) = RPCMessageParser.parse(Data(text.utf8)) { return incoming }
        return nil
    }

    func errorKind(_ text: String) -> (JSONValue, RPCErrorKind?)? {
        if case .invalid(let id, let error)? = single(text) { return (id, error.kind) }
        return nil
    }

    @Test func wellFormedCall() throws {
        guard case .call(let call)? = single(#"{"jsonrpc":"2.0","id":7,"method":"status","params":{"a":1}}"#) else {
            Issue.record("not a call")
            return
        }
        #expect(call.id == .number(7) && call.method == "status" && call.params == .object(["a": .number(1)]))
    }

    @Test func notificationHasNoID() {
        guard case .call(let call)? = single(#"{"jsonrpc":"2.0","method":"ping"}"#) else {
            Issue.record("not a call")
            return
        }
        #expect(call.id == nil)
    }

    @Test func envelopeErrors() {
        #expect(errorKind("{oops")?.1 == .parseError)
        #expect(errorKind("\u{FF}\u{FE}")?.1 == .parseError)
        #expect(errorKind("42")?.1 == .invalidRequest)
        #expect(errorKind(#"{"id":1,"method":"ping"}"#)! == (.number(1), .invalidRequest))
        #expect(errorKind(#"{"jsonrpc":"1.0","id":"a","method":"ping"}"#)! == (.string("a"), .invalidRequest))
        #expect(errorKind(#"{"jsonrpc":"2.0","id":2,"method":5}"#)! == (.number(2), .invalidRequest))
        #expect(errorKind(#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#)! == (.null, .invalidRequest))
        #expect(errorKind(#"{"jsonrpc":"2.0","id":3,"method":"ping","params":"x"}"#)! == (.number(3), .invalidParams))
    }

    @Test func batches() {
        guard case .batch(let items) = RPCMessageParser.parse(Data(#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5]"#.utf8)) else {
            Issue.record("not a batch")
            return
        }
        #expect(items.count == 2)
        #expect(errorKind("[]")?.1 == .invalidRequest)
    }

    @Test func paramsDecodeOrExplain() throws {
        struct Params: Decodable { var model: String }
        let call = RPCCall(id: .number(1), method: "models.load", params: .object(["model": .number(3)]))
        #expect {
            _ = try call.decodeParams(Params.self)
        } throws: { error in
            (error as? RPCErrorPayload)?.kind == .invalidParams
                && (error as? RPCErrorPayload)?.message.contains("field \"model\" must be String") == true
        }
        let good = RPCCall(id: .number(1), method: "m", params: .object(["model": .string("x")]))
        #expect(try good.decodeParams(Params.self).model == "x")
    }

    @Test func wireEncoding() {
        let reply = RPCWire.response(id: .string("a\"b\n"), reply: .result(Data(#"{"pong":true}"#.utf8)))
        #expect(String(decoding: reply, as: UTF8.self) == #"{"jsonrpc":"2.0","id":"a\"b\n","result":{"pong":true}}"#)
        let error = RPCWire.response(id: .number(3), reply: .error(RPCErrorPayload(.methodNotFound, "method not found: 'x'")))
        #expect(String(decoding: error, as: UTF8.self)
            == #"{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"data":{"kind":"method_not_found"},"message":"method not found: 'x'"}}"#)
        let note = RPCWire.streamNotification(id: .number(9), data: Data(#"{"token":"hi"}"#.utf8))
        #expect(String(decoding: note, as: UTF8.self) == #"{"jsonrpc":"2.0","method":"stream","params":{"id":9,"data":{"token":"hi"}}}"#)
    }

    @Test func everyKindHasAStableCode() {
        #expect(RPCErrorKind.parseError.code == -32700 && RPCErrorKind.tooLarge.code == -32600)
        let applicationCodes = RPCErrorKind.allCases.map(\.code).filter { $0 > -32100 && $0 <= -32000 }
        #expect(Set(applicationCodes).count == applicationCodes.count)
    }
}

@Suite(.timeLimit(.minutes(3))) struct PeerPolicyTests {
    @Test func ownerRootAndGroupMembers() {
        let policy = PeerPolicy(ownerUID: 1000, allowRoot: true, allowedGID: 500)
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 1000, gid: 1000)) { _, _ in [] })
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 0, gid: 0)) { _, _ in [] })
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 1001, gid: 500)) { _, _ in [] })
        #expect(policy.allows(PeerCredentials(pid: 1, uid: 1002, gid: 1002)) { _, _ in [1002, 500] })
        #expect(!policy.allows(PeerCredentials(pid: 1, uid: 1003, gid: 1003)) { _, _ in [1003, 27] })
        #expect(!PeerPolicy(ownerUID: 1000, allowRoot: false).allows(PeerCredentials(pid: 1, uid: 0, gid: 0)) { _, _ in [0] })
    }

    @Test func socketPathResolution() {
        #expect(SocketPath.resolve(flag: "/a.sock", environment: ["GPUCTL_SOCKET": "/b.sock"]) == "/a.sock")
        #expect(SocketPath.resolve(flag: nil, environment: ["GPUCTL_SOCKET": "/b.sock", "XDG_RUNTIME_DIR": "/run/user/1"]) == "/b.sock")
        #expect(SocketPath.resolve(flag: "", environment: ["XDG_RUNTIME_DIR": "/run/user/1"]) == "/run/user/1/gpuctl/gpuctld.sock")
        #expect(SocketPath.resolve(flag: nil, environment: [:]) == "/run/gpuctl/gpuctld.sock")
    }
}
