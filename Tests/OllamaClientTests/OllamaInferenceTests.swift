import AsyncHTTPClient
import Foundation
import GPUCtlModels
import GPUCtlTestSupport
import Logging
import NIOCore
import NIOPosix
import OllamaClient
import Testing

/// OllamaClient's loads, streams, errors and limits against the fake Ollama.
@Suite(.timeLimit(.minutes(3))) struct OllamaInferenceTests {
    func withOllama(_ body: (FakeOllama, OllamaClient) async throws -> Void) async throws {
        try await OllamaClientTests.withOllama(retry: RetryPolicy(attempts: 2, baseDelay: .milliseconds(10)), body)
    }


    @Test func generateStreamsChunksAndEndsWithMetrics() async throws {
        try await withOllama { fake, client in
            let chunks = try await client.generateChunks(GenerateRequest(model: "llama3.1:8b", prompt: "hi"))
            #expect(chunks.count == 13)
            #expect(chunks.map(\.text).joined() == "The quick brown fox jumps over the lazy dog and runs away")
            let last = try #require(chunks.last)
            #expect(last.done && last.doneReason == "stop" && last.metrics?.evalCount == 12)
            #expect(chunks.dropLast().allSatisfy { !$0.done && $0.metrics == nil })
            #expect(await fake.inFlight["llama3.1:8b"] == 0)
        }
    }

    @Test func chatStreamsTheAssistantsMessage() async throws {
        try await withOllama { _, client in
            let request = ChatRequest(model: "llama3.2:3b", messages: [ChatMessage(role: "user", content: "hi")],
                                      options: ["num_predict": 3])
            let chunks = try await client.chatChunks(request)
            #expect(chunks.map(\.text).joined() == "The quick brown")
            #expect(chunks.last?.doneReason == "length")
        }
    }

    @Test func embedReturnsNormalisedVectorsOfTheModelsDimension() async throws {
        try await withOllama { _, client in
            let reply = try await client.embed(EmbedRequest(model: "nomic-embed-text", input: ["a", "b"]))
            #expect(reply.embeddings.count == 2 && reply.embeddings.allSatisfy { $0.count == 768 })
            let norm = reply.embeddings[0].reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-9)
            let legacy = try await client.legacyEmbedding(model: "nomic-embed-text", prompt: "a")
            #expect(legacy.count == 768)
        }
    }

    @Test func loadAndUnloadShowInPs() async throws {
        try await withOllama { fake, client in
            try await client.load("llama3.1:8b", keepAlive: "30m", options: ["num_ctx": 8192], embeddingOnly: false)
            try await client.load("nomic-embed-text", keepAlive: -1, options: [:], embeddingOnly: true)
            let running = try await client.runningModels()
            #expect(Set(running.map(\.name)) == ["llama3.1:8b", "nomic-embed-text:latest"])
            #expect(running.first { $0.name == "llama3.1:8b" }?.contextLength == 8192)
            #expect(try await client.show("nomic-embed-text").isEmbeddingOnly)
            try await client.unload("llama3.1:8b")
            #expect(await eventually { try await client.runningModels().map(\.name) == ["nomic-embed-text:latest"] })
            #expect(await fake.gpu.usedBytes == 600 << 20)
        }
    }

    @Test func notFoundErrorsCarryOllamasOwnWordsPerEndpoint() async throws {
        try await withOllama { _, client in
            await #expect(throws: OllamaError(kind: .http, status: 404, message: "model 'nosuch' not found")) {
                _ = try await client.generateChunks(GenerateRequest(model: "nosuch", prompt: "x"))
            }
            await #expect(throws: OllamaError(kind: .http, status: 404, message: "model \"nosuch\" not found, try pulling it first")) {
                _ = try await client.embed(EmbedRequest(model: "nosuch", input: ["x"]))
            }
            await #expect(throws: OllamaError(kind: .http, status: 404, message: "model 'nosuch:latest' not found")) {
                _ = try await client.show("nosuch")
            }
            await #expect(throws: OllamaError(kind: .http, status: 400, message: "\"nomic-embed-text\" does not support generate")) {
                _ = try await client.generateChunks(GenerateRequest(model: "nomic-embed-text", prompt: "x"))
            }
            await #expect(throws: OllamaError(kind: .http, status: 500, message: "option \"temperature\" must be of type float32")) {
                _ = try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x", options: ["temperature": "hot"]))
            }
            await #expect(throws: OllamaError(kind: .http, status: 400, message: "time: missing unit in duration \"300\"")) {
                _ = try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x", keepAlive: "300"))
            }
        }
    }

    @Test func anErrorLineMidStreamIsThrownAfterTheChunksBeforeIt() async throws {
        try await withOllama { fake, client in
            fake.configure { $0.errorNextStreamAfter = (3, "CUDA error: out of memory") }
            let seen = LockedBox(0)
            await #expect(throws: OllamaError(kind: .http, status: 200, message: "CUDA error: out of memory")) {
                _ = try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) { _ in seen.mutate { $0 += 1 } }
            }
            #expect(seen.value == 3)
        }
    }

    @Test func aStreamCutMidWayIsInterruptedNotAHang() async throws {
        try await withOllama { fake, client in
            fake.configure { $0.dropNextStreamAfter = 2 }
            await #expect { _ = try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) }
                throws: { ($0 as? OllamaError)?.kind == .interrupted }
            #expect(await eventually { await fake.inFlight["llama3.2:3b"] == 0 })
        }
    }

    @Test func firstByteAndIdleLimitsCancelTheRequest() async throws {
        try await withOllama { fake, client in
            var strict = client
            strict.streamTimeouts = StreamTimeouts(firstByte: .milliseconds(200), idle: .milliseconds(200), total: .seconds(30))
            fake.configure { $0.firstByteDelay = .seconds(2) }
            await #expect { _ = try await strict.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) }
                throws: { ($0 as? OllamaError)?.kind == .timeout && "\($0)".contains("first byte") }
            fake.configure { $0.firstByteDelay = .zero; $0.tokenDelay = .seconds(1) }
            strict.streamTimeouts.firstByte = .seconds(10)
            await #expect { _ = try await strict.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) }
                throws: { ($0 as? OllamaError)?.kind == .timeout && "\($0)".contains("idle") }
            // The fake sees the request go away: nothing is left in flight.
            #expect(await eventually { await fake.inFlight["llama3.2:3b"] == 0 })
        }
    }

    @Test func cancellingTheCallerCancelsTheUpstreamRequest() async throws {
        try await withOllama { fake, client in
            fake.configure { $0.tokenDelay = .milliseconds(50); $0.tokens = 1000 }
            let firstChunk = LockedBox(false)
            let task = Task {
                try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) { _ in firstChunk.mutate { $0 = true } }
            }
            #expect(await eventually { firstChunk.value })
            #expect(await fake.inFlight["llama3.2:3b"] == 1)
            task.cancel()
            _ = await task.result
            #expect(await eventually { await fake.inFlight["llama3.2:3b"] == 0 })
        }
    }

    @Test func aRefusedConnectionIsUnreachable() async throws {
        try await withOllama { fake, client in
            await fake.stop()
            await #expect { _ = try await client.generateChunks(GenerateRequest(model: "llama3.2:3b", prompt: "x")) }
                throws: { ($0 as? OllamaError)?.kind == .unreachable }
            try await fake.start()
        }
    }

    @Test func theSinksLoopIsWhereChunksArriveWithTheSameErrors() async throws {
        try await withOllama { fake, client in
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let seen = LockedBox<(count: Int, onLoop: Bool, text: String)>((0, true, ""))
            try await client.generate(GenerateRequest(model: "llama3.2:3b", prompt: "hi"), into: LoopSink(eventLoop: loop)) { chunk in
                seen.mutate { $0.count += 1; $0.onLoop = $0.onLoop && loop.inEventLoop; $0.text += chunk.text }
            }
            #expect(seen.value.count == 13 && seen.value.onLoop)
            #expect(seen.value.text == "The quick brown fox jumps over the lazy dog and runs away")
            fake.configure { $0.errorNextStreamAfter = (2, "CUDA error: out of memory") }
            await #expect(throws: OllamaError(kind: .http, status: 200, message: "CUDA error: out of memory")) {
                try await client.chat(ChatRequest(model: "llama3.2:3b", messages: [ChatMessage(role: "user", content: "x")]),
                                      into: LoopSink(eventLoop: loop)) { _ in }
            }
            fake.configure { $0.dropNextStreamAfter = 2 }
            await #expect { try await client.generate(GenerateRequest(model: "llama3.2:3b", prompt: "x"), into: LoopSink(eventLoop: loop)) { _ in } }
                throws: { ($0 as? OllamaError)?.kind == .interrupted }
            await #expect(throws: OllamaError(kind: .http, status: 404, message: "model 'nosuch' not found")) {
                try await client.generate(GenerateRequest(model: "nosuch", prompt: "x"), into: LoopSink(eventLoop: loop)) { _ in }
            }
            #expect(await eventually { await fake.inFlight["llama3.2:3b"] == 0 })
        }
    }
}

/// A sink on one loop with nothing to wait for.
struct LoopSink: RelaySink {
    var eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    func backpressure() -> EventLoopFuture<Void>? { nil }
    func abandon() {}
}

extension OllamaClient {
    /// Every chunk of a generate, each also handed to `each` as it arrives.
    func generateChunks(_ request: GenerateRequest, each: @escaping @Sendable (InferenceChunk) -> Void = { _ in }) async throws -> [InferenceChunk] {
        let chunks = LockedBox<[InferenceChunk]>([])
        try await generate(request, into: LoopSink()) { chunk in
            chunks.mutate { $0.append(chunk) }
            each(chunk)
        }
        return chunks.value
    }

    func chatChunks(_ request: ChatRequest) async throws -> [InferenceChunk] {
        let chunks = LockedBox<[InferenceChunk]>([])
        try await chat(request, into: LoopSink()) { chunk in chunks.mutate { $0.append(chunk) } }
        return chunks.value
    }
}

/// A request that reached Ollama is never sent again: only a refused connection (nothing was
/// sent) is retried. Here the "Ollama" reads each request and resets the connection.
@Suite(.timeLimit(.minutes(2))) struct OllamaNoDoubleSendTests {
    @Test func aResetAfterTheRequestWasSentIsNotRetried() async throws {
        let server = try DroppingServer()
        defer { server.stop() }
        try await withHTTPClient(ClientHarness.httpConfiguration) { http in
            let client = OllamaClient(baseURL: server.baseURL, httpClient: http, quickTimeout: .seconds(5),
                                      retry: RetryPolicy(attempts: 3, baseDelay: .milliseconds(10)), logger: Logger(label: "test"))
            await #expect(throws: OllamaError.self) {
                try await client.load("llama3.1:8b", keepAlive: nil, options: [:], embeddingOnly: false)
            }
            #expect(server.requests == 1, "a load reached Ollama \(server.requests) times")
            await #expect(throws: OllamaError.self) {
                _ = try await client.generateChunks(GenerateRequest(model: "llama3.1:8b", prompt: "hi"))
            }
            #expect(server.requests == 2, "a generate reached Ollama \(server.requests - 1) times")
            do {
                _ = try await client.generateChunks(GenerateRequest(model: "m", prompt: "hi"))
            } catch let error as OllamaError {
                #expect(error.kind == .interrupted, "\(error)")
            }
            // An idempotent read is repeated: it is safe.
            _ = try? await client.version()
            #expect(server.requests > 4)
        }
    }

    @Test func aRefusedConnectionIsRetriedAndSaysUnreachable() async throws {
        let server = try DroppingServer()
        let url = server.baseURL
        server.stop()
        try await withHTTPClient(ClientHarness.httpConfiguration) { http in
            let client = OllamaClient(baseURL: url, httpClient: http, quickTimeout: .seconds(5),
                                      retry: RetryPolicy(attempts: 2, baseDelay: .milliseconds(10)), logger: Logger(label: "test"))
            do {
                try await client.load("m", keepAlive: nil, options: [:], embeddingOnly: false)
                Issue.record("a load to a closed port succeeded")
            } catch let error as OllamaError {
                #expect(error.kind == .unreachable, "\(error)")
            }
        }
    }
}
