import Foundation
import ComfyUIClient
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A backend that sends more than any real one would: gpuctld keeps a bounded amount of it
/// and fails the call with a sentence that says so, and stays up for the next caller.
@Suite(.timeLimit(.minutes(3))) struct HostileBackendTests {
    @Test func anAnswerLongerThanAnyModelWritesFailsTheCallInsteadOfGrowingWithoutEnd() async throws {
        let bed = try await BackendTestBed.start { $0.maximumAnswerBytes = 8 << 10 }
        // 12 chunks of 2,000 bytes each: 24 KB of text against an 8 KiB limit.
        bed.ollama.configure { $0.chunkBytes = 2_000 }
        let path = bed.daemon.socketPath
        for stream in [false, true] {
            let failure = try await blocking { () -> RPCErrorPayload? in
                do {
                    _ = try RPCClient(socketPath: path).callRaw("generate", params: ["model": "llama3.2:3b", "prompt": "hi", "stream": .bool(stream)])
                    return nil
                } catch RPCClientError.remote(let payload) {
                    return payload
                }
            }
            #expect(failure?.data?.kind == "backend_error", "stream \(stream): \(String(describing: failure))")
            #expect(failure?.message.contains("more than any model writes") == true)
        }
        // An ordinary answer still goes through.
        bed.ollama.configure { $0.chunkBytes = nil }
        let answer = try await bed.call(.generate, ["model": "llama3.2:3b", "prompt": "hi", "stream": false], as: InferenceResult.self)
        #expect(!answer.response.isEmpty)
        try await bed.stop()
    }

    /// A /ws flood while the runner is busy: at most `limit` messages wait, the rest are
    /// dropped and the runner hears of a lost connection, then of one back once it caught up.
    @Test func aFloodOfWebSocketMessagesWaitsBoundedAndEndsAsAReconnect() {
        let backlog = WebSocketBacklog(limit: 3)
        let message = ComfyStreamItem.event(.progress(promptID: "p", node: "3", value: 1, max: 20))
        let passed = (0..<1_000).compactMap { _ in backlog.admit(message) }
        #expect(passed.count == 4 && passed.prefix(3).allSatisfy { $0 == message })
        guard case .disconnected(let reason)? = passed.last else {
            Issue.record("the fourth was \(String(describing: passed.last))")
            return
        }
        #expect(reason.contains("dropped"))
        #expect(backlog.took() == nil && backlog.took() == nil && backlog.took() == nil)
        #expect(backlog.admit(message) == nil)
        #expect(backlog.took() == .connected(sid: nil))
        #expect(backlog.admit(message) == message)
        #expect(backlog.took() == nil)
    }
}
