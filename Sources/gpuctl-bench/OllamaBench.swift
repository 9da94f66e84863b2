import AsyncHTTPClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport
import Logging
import OllamaClient

/// Issue 3's numbers: the Scheduler's decision time, the streaming relay against reading the
/// fake Ollama directly in the same run, and what a swap adds to the fake's own load time.
struct OllamaNumbers {
    var decisionMicros = 0.0
    var decisionWaiting = 0
    var decisionModels = 0
    var directTokensPerSecond = 0.0
    var relayTokensPerSecond = 0.0
    var tokensPerRun = 0
    var directLatency: LatencySummary?
    var relayLatency: LatencySummary?
    var swapOverhead: LatencySummary?
    var fakeLoadMillis = 0.0
    /// gpuctld's CPU time (user + system) per relayed chunk.
    var relayCPUMicrosPerChunk = 0.0
}

enum OllamaBench {
    /// One decision = one `handle` call with `waiting` requests queued behind busy models.
    static func schedulerDecision(models: Int = 50, waiting: Int = 1000, decisions: Int = 20_000) -> Double {
        var policies: [String: Scheduler.ModelPolicy] = [:]
        for index in 0..<models { policies["m\(index)"] = .init(footprint: UInt64(4 + index % 8) << 30, priority: index % 100) }
        var scheduler = Scheduler(budget: 24 << 30, policies: policies)
        let now = ContinuousClock.now
        // Two busy residents fill the card, so every waiting request must wait.
        for (id, model) in [(UInt64(1), "m7"), (2, "m15")] {
            _ = scheduler.handle(.requested(id, model: model, requestClass: .interactive), now: now)
            _ = scheduler.handle(.loaded(model: model, bytes: 12 << 30), now: now)
        }
        for index in 0..<waiting {
            _ = scheduler.handle(.requested(UInt64(100 + index), model: "m\(index % models)",
                                            requestClass: index % 2 == 0 ? .interactive : .batch), now: now)
        }
        var id = UInt64(1_000_000)
        let started = ContinuousClock.now
        for index in 0..<decisions {
            // Alternate: a new request arrives, then it is withdrawn; the queue stays at `waiting`.
            if index % 2 == 0 {
                id += 1
                _ = scheduler.handle(.requested(id, model: "m\(index % models)", requestClass: .interactive), now: now)
            } else {
                _ = scheduler.handle(.cancelled(id), now: now)
            }
        }
        return Clock.microseconds(since: started) / Double(decisions)
    }

    static func run(products: URL, directory: String, log: (String) -> Void) async throws -> OllamaNumbers {
        var numbers = OllamaNumbers()
        numbers.decisionModels = 50
        numbers.decisionWaiting = 1000
        log("scheduler: decisions with 50 models and 1000 waiting requests")
        numbers.decisionMicros = schedulerDecision()

        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let fake = FakeOllama(gpu: gpu)
        try await fake.start()
        let socket = "\(directory)/ollama-bench.sock"
        let daemon = try BenchProcess.start(products.appendingPathComponent("gpuctld").path, [
            "--socket", socket, "--state-dir", "\(directory)/ollama-state", "--vram", "24GiB",
            "--ollama-url", fake.baseURL, "--comfyui-url", "http://127.0.0.1:9", "--log-level", "error",
        ])
        defer { daemon.stop() }
        try await onThread { try BenchProcess.waitForPing(socket) }
        let model = "llama3.2:3b"
        let port = Int(fake.baseURL.split(separator: ":").last!)!
        let body = #"{"model":"llama3.2:3b","prompt":"bench","options":{"num_ctx":4096}}"#
        _ = try await onThread { try RPCClient(socketPath: socket, timeout: .seconds(60)).callRaw(RPCMethod.modelsLoad.rawValue, params: ModelLoadParams(model: model).json) }

        let tokens = 4000
        numbers.tokensPerRun = tokens
        fake.configure { $0.tokens = tokens; $0.tokenDelay = .zero }
        log("streaming: \(tokens) chunks with no delay, direct and through gpuctld, 5 runs each")
        var directRates: [Double] = [], relayRates: [Double] = []
        let ticksBefore = ProcessStats.cpuTicks(pid: daemon.pid) ?? 0
        var relayedChunks = 0
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let count = try await onThread { try RawHTTPReader.stream(port: port, path: "/api/generate", body: body).count }
            directRates.append(Double(count) / (Clock.microseconds(since: started) / 1e6))
            let relayStarted = ContinuousClock.now
            let relayed = try await onThread { () -> Int in
                var count = 0
                _ = try RPCClient(socketPath: socket, timeout: .seconds(60))
                    .callRaw(RPCMethod.generate.rawValue, params: GenerateParams(model: model, prompt: "bench").json) { _ in count += 1 }
                return count
            }
            relayRates.append(Double(relayed) / (Clock.microseconds(since: relayStarted) / 1e6))
            relayedChunks += relayed
        }
        let ticks = (ProcessStats.cpuTicks(pid: daemon.pid) ?? 0) - ticksBefore
        numbers.relayCPUMicrosPerChunk = Double(ticks) / ProcessStats.ticksPerSecond * 1e6 / Double(max(1, relayedChunks))
        numbers.directTokensPerSecond = directRates.sorted()[2]
        numbers.relayTokensPerSecond = relayRates.sorted()[2]

        // Per-chunk latency needs chunks that do not queue behind each other: paced at 2 ms.
        let paced = 1000
        log("latency: \(paced) chunks paced 2 ms apart, fake's write to reader's receipt")
        fake.configure { $0.tokens = paced; $0.tokenDelay = .milliseconds(2); $0.recordChunkTimes = true }
        fake.chunkTimes.mutate { $0 = [] }
        let directReceived = try await onThread { try RawHTTPReader.stream(port: port, path: "/api/generate", body: body) }
        numbers.directLatency = latency(sent: fake.chunkTimes.value, received: directReceived)
        fake.chunkTimes.mutate { $0 = [] }
        let relayReceived = try await onThread { () -> [ContinuousClock.Instant] in
            var times: [ContinuousClock.Instant] = []
            times.reserveCapacity(paced)
            _ = try RPCClient(socketPath: socket, timeout: .seconds(60))
                .callRaw(RPCMethod.generate.rawValue, params: GenerateParams(model: model, prompt: "bench").json) { _ in times.append(.now) }
            return times
        }
        numbers.relayLatency = latency(sent: fake.chunkTimes.value, received: relayReceived)
        fake.configure { $0.recordChunkTimes = false }

        let loadTime = Duration.milliseconds(100)
        numbers.fakeLoadMillis = 100
        fake.configure { $0.loadTime = loadTime; $0.unloadDelay = .zero }
        log("swap: 20 alternating models.swap between two models, fake load time 100 ms")
        var overheads: [Double] = []
        for index in 0..<21 {
            let target = index % 2 == 0 ? "llama3.1:8b" : "qwen2.5:14b"
            let started = ContinuousClock.now
            _ = try await onThread { try RPCClient(socketPath: socket, timeout: .seconds(60)).callRaw(RPCMethod.modelsSwap.rawValue, params: ModelSwapParams(model: target).json) }
            let wall = Clock.microseconds(since: started)
            if index > 0 { overheads.append(wall - 100_000) }  // the first swap also asks /api/show once
        }
        numbers.swapOverhead = LatencySummary(overheads)
        await fake.stop()
        return numbers
    }

    static func latency(sent: [ContinuousClock.Instant], received: [ContinuousClock.Instant]) -> LatencySummary {
        LatencySummary(zip(sent, received).map { pair in
            let elapsed = pair.1 - pair.0
            return Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
        })
    }

    /// Blocking work (the POSIX client) on its own thread, so the fake's tasks keep running.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
