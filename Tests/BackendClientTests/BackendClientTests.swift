import AsyncHTTPClient
import ComfyUIClient
import Foundation
import GPUCtlTestSupport
import Logging
import OllamaClient
import Testing
import WSClient

/// The real clients against the fakes, over real HTTP on 127.0.0.1.
@Suite(.timeLimit(.minutes(3))) struct BackendClientTests {
    static var httpConfiguration: HTTPClient.Configuration {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(5))
        pool.retryConnectionEstablishment = false
        return .init(connectionPool: pool)
    }

    /// Starts a fake, makes a client for it, runs `body`, then stops both whatever happened.
    static func running<Fake: Sendable, Client>(
        _ fake: Fake, start: (Fake) async throws -> Void, stop: (Fake) async -> Void,
        client: (Fake, HTTPClient) -> Client, _ body: (Fake, Client) async throws -> Void
    ) async throws {
        try await start(fake)
        do {
            try await withHTTPClient(httpConfiguration) { http in try await body(fake, client(fake, http)) }
        } catch {
            await stop(fake)
            throw error
        }
        await stop(fake)
    }

    /// A fake Ollama on a 24 GiB virtual card and a client for it, both closed afterwards.
    static func withOllama(retry: RetryPolicy = RetryPolicy(), _ body: (FakeOllama, OllamaClient) async throws -> Void) async throws {
        try await running(FakeOllama(gpu: VirtualGPU(totalBytes: 24 << 30)), start: { try await $0.start() }, stop: { await $0.stop() },
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

    @Test func comfyUISystemStatsReportTheSharedCard() async throws {
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let fake = FakeComfyUI(gpu: gpu)
        try await fake.start()
        try await withHTTPClient(Self.httpConfiguration) { http in
            let client = ComfyUIClient(baseURL: fake.baseURL, httpClient: http, quickTimeout: .seconds(10), logger: Logger(label: "test"))
            await gpu.allocate("ollama:x", bytes: 4 << 30)
            let stats = try await client.systemStats()
            #expect(stats.system.comfyuiVersion == "0.3.64")
            #expect(stats.devices.first?.vramTotal == 24 << 30)
            #expect(stats.devices.first?.vramFree == 20 << 30)
            await fake.stop()
            await #expect { _ = try await client.systemStats() } throws: { ($0 as? ComfyUIError)?.kind == .unreachable }
        }
    }

    @Test func comfyUIWebSocketSaysStatusFirst() async throws {
        let fake = FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30))
        try await fake.start()
        let url = fake.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/ws?clientId=gpuctld-test"
        let frames = LockedBox<[String]>([])
        try await WebSocketClient.connect(url: url, logger: Logger(label: "test")) { inbound, outbound, _ in
            try await outbound.write(.text(#"{"type":"feature_flags","data":{"supports_preview_metadata":true}}"#))
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let text) = message { frames.mutate { $0.append(text) } }
                if frames.value.count == 2 { break }
            }
        }
        let received = frames.value
        #expect(received.count == 2)
        #expect(received.first == #"{"data":{"sid":"gpuctld-test","status":{"exec_info":{"queue_remaining":0}}},"type":"status"}"#)
        #expect(received.last?.contains(#""type":"feature_flags""#) == true)
        await fake.stop()
    }
}
