import AsyncHTTPClient
import Foundation
import GPUCtlTestSupport
import Logging
import OllamaClient
import Testing

/// OllamaClient against the fake Ollama, over real HTTP on 127.0.0.1.
@Suite(.timeLimit(.minutes(3))) struct OllamaClientTests {
    /// A fake Ollama on a 24 GiB virtual card and a client for it, both closed afterwards.
    static func withOllama(retry: RetryPolicy = RetryPolicy(), _ body: (FakeOllama, OllamaClient) async throws -> Void) async throws {
        try await ClientHarness.running(FakeOllama(gpu: VirtualGPU(totalBytes: 24 << 30)), start: { try await $0.start() }, stop: { await $0.stop() },
                                        client: { fake, http in
                                            OllamaClient(baseURL: fake.baseURL, httpClient: http, quickTimeout: .seconds(10), retry: retry,
                                                         logger: Logger(label: "test"))
                                        }, body)
    }

    @Test func ollamaVersionAndRunningModels() async throws {
        try await Self.withOllama { fake, client in
            #expect(try await client.version() == "0.33.0-rc2")
            #expect(try await client.runningModels().isEmpty)
            #expect(await fake.preload("llama3.1:8b"))
            let running = try await client.runningModels()
            #expect(running.map(\.name) == ["llama3.1:8b"])
            #expect(running.first?.sizeVRAM == 6_200 << 20 && running.first?.contextLength == 4096)
            #expect(running.first?.expiresAt?.hasSuffix("-07:00") == true)
            #expect(await fake.gpu.usedBytes == 6_200 << 20)
        }
    }

    @Test func ollamaErrorsCarryItsMessageAndStatus() async throws {
        try await Self.withOllama { fake, client in
            var once = client
            once.retry = .none
            fake.failNext(1, status: 503, message: "server busy, please try again.  maximum pending requests exceeded")
            await #expect(throws: OllamaError(kind: .http, status: 503,
                                              message: "server busy, please try again.  maximum pending requests exceeded")) {
                _ = try await once.version()
            }
            // A quick read is repeated after a 5xx: one failure is invisible to the caller.
            fake.failNext(1, status: 500, message: "fake failure")
            let version = try await client.version()
            #expect(version == "0.33.0-rc2")
        }
    }

    @Test func ollamaDownFailsFastAndSlowTimesOut() async throws {
        try await Self.withOllama { fake, client in
            fake.setLatency(.seconds(3))
            var quick = client
            quick.quickTimeout = .milliseconds(200)
            await #expect { _ = try await quick.version() } throws: { ($0 as? OllamaError)?.kind == .timeout }
            fake.setLatency(.zero)
            await fake.stop()
            await #expect { _ = try await client.version() } throws: { error in
                guard let error = error as? OllamaError else { return false }
                return error.kind == .unreachable && error.message.contains("Connection refused")
            }
            try await fake.restart()
            let version = try await client.version()
            #expect(version == "0.33.0-rc2")
        }
    }
}
