import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A model the catalog gives no keep_alive is sent one planned from its use (KeepAlivePlan)
/// once a second request shows a pause to bridge; a catalog's keep_alive still wins.
@Suite(.timeLimit(.minutes(2))) struct KeepAlivePlanTests {
    @Test func aModelWithoutACatalogKeepAliveGetsOnePlannedFromItsUse() async throws {
        let bed = try await BackendTestBed.start()
        // Ollama's default here is a minute, so that the planned 5 minutes can be told from it.
        bed.ollama.configure { $0.defaultKeepAlive = 60 }
        let socket = bed.daemon.socketPath
        func generate(_ model: String) async throws {
            _ = try await blocking {
                try RPCClient(socketPath: socket, timeout: .seconds(30))
                    .callRaw("generate", params: ["model": .string(model), "prompt": "hi", "stream": false])
            }
        }
        try await generate("llama3.2:3b")
        #expect(await bed.ollama.keepAlive(of: "llama3.2:3b") == 60, "the first request has no pause to go by")
        try await generate("llama3.2:3b")
        #expect(await bed.ollama.keepAlive(of: "llama3.2:3b") == 300)
        // The catalog's 30m for llama3.1:8b is sent as it is.
        try await generate("llama3.1:8b")
        try await generate("llama3.1:8b")
        #expect(await bed.ollama.keepAlive(of: "llama3.1:8b") == 1_800)
        try await bed.stop()
    }
}
