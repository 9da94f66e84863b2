import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 12's numbers: the same blocking HTTP client against the fake Ollama directly and
/// through gpuctld's Ollama door, in one run, with no token delay.
struct DoorNumbers {
    var firstChunk1Direct: LatencySummary?
    var firstChunk1Door: LatencySummary?
    var firstChunk32Direct: LatencySummary?
    var firstChunk32Door: LatencySummary?
    var tokensPerSecond1Direct = 0.0
    var tokensPerSecond1Door = 0.0
    var tokensPerSecond32Direct = 0.0
    var tokensPerSecond32Door = 0.0
    var shortDirect: LatencySummary?
    var shortDoor: LatencySummary?
    var peakRSSKiB32 = 0
    var idleRSSKiB = 0
    var streamTokens = 0
    /// gpuctld's CPU time (user + system) per short non-streamed call through the door.
    var cpuMicrosPerShortCall = 0.0
}

enum DoorBench {
    static let streamBody = #"{"model":"llama3.2:3b","prompt":"bench"}"#
    static let shortBody = #"{"model":"llama3.2:3b","prompt":"bench","stream":false,"options":{"num_predict":1}}"#

    static func run(products: URL, directory: String, log: (String) -> Void) async throws -> DoorNumbers {
        var numbers = DoorNumbers()
        let fake = FakeOllama(gpu: VirtualGPU(totalBytes: 24 << 30))
        try await fake.start()
        let socket = "\(directory)/door-bench.sock"
        let daemon = try BenchProcess.start(products.appendingPathComponent("gpuctld").path, [
            "--socket", socket, "--state-dir", "\(directory)/door-state", "--vram", "24GiB",
            "--ollama-url", fake.baseURL, "--comfyui-url", "http://127.0.0.1:9", "--log-level", "error",
            "--ollama-listen", "127.0.0.1:0",
        ])
        defer { daemon.stop() }
        try await OllamaBench.onThread { try BenchProcess.waitForPing(socket) }
        let status = try await OllamaBench.onThread {
            try JSONDecoder().decode(StatusResult.self, from: RPCClient(socketPath: socket, timeout: .seconds(10)).callRaw("status", params: nil))
        }
        guard let url = status.daemon.ollamaDoorURL, let doorPort = Int(url.split(separator: ":").last ?? "") else {
            throw POSIXError(.ENOTCONN)
        }
        let directPort = Int(fake.baseURL.split(separator: ":").last!)!
        numbers.idleRSSKiB = ProcessStats.residentKiB(pid: daemon.pid) ?? 0
        // Loaded once, so what follows measures the relay, not a load.
        _ = try await OllamaBench.onThread { try RawHTTPReader.exchange(port: doorPort, path: "/api/generate", body: shortBody) }

        fake.configure { $0.tokens = 8; $0.tokenDelay = .zero }
        log("door: time to first chunk, 1 client, 300 requests each way")
        numbers.firstChunk1Direct = try await firstChunks(port: directPort, clients: 1, each: 300)
        numbers.firstChunk1Door = try await firstChunks(port: doorPort, clients: 1, each: 300)
        log("door: time to first chunk, 32 clients at once, 20 requests each")
        numbers.firstChunk32Direct = try await firstChunks(port: directPort, clients: 32, each: 20)
        numbers.firstChunk32Door = try await firstChunks(port: doorPort, clients: 32, each: 20)

        let tokens = 4000
        numbers.streamTokens = tokens
        fake.configure { $0.tokens = tokens }
        log("door: \(tokens)-chunk streams, 1 client (median of 5) and 32 at once")
        numbers.tokensPerSecond1Direct = try await median(5) { try await rate(port: directPort, clients: 1) }
        numbers.tokensPerSecond1Door = try await median(5) { try await rate(port: doorPort, clients: 1) }
        numbers.tokensPerSecond32Direct = try await rate(port: directPort, clients: 32)
        let sampler = RSSSampler(pid: daemon.pid)
        numbers.tokensPerSecond32Door = try await rate(port: doorPort, clients: 32)
        numbers.peakRSSKiB32 = sampler.stop()

        log("door: short non-streamed generate, 500 each way")
        numbers.shortDirect = try await shortCalls(port: directPort, count: 500)
        let ticksBefore = ProcessStats.cpuTicks(pid: daemon.pid) ?? 0
        numbers.shortDoor = try await shortCalls(port: doorPort, count: 500)
        let ticks = (ProcessStats.cpuTicks(pid: daemon.pid) ?? 0) - ticksBefore
        numbers.cpuMicrosPerShortCall = Double(ticks) / ProcessStats.ticksPerSecond * 1e6 / 500
        await fake.stop()
        return numbers
    }

    /// `clients` threads, each sending `each` streamed requests in turn: each request's time
    /// from sending to its first chunk, in µs.
    static func firstChunks(port: Int, clients: Int, each: Int) async throws -> LatencySummary {
        let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await OllamaBench.onThread {
                        try (0..<each).map { _ in
                            let started = ContinuousClock.now
                            let times = try RawHTTPReader.stream(port: port, path: "/api/generate", body: streamBody)
                            let first = (times.first ?? .now) - started
                            return Double(first.components.seconds) * 1e6 + Double(first.components.attoseconds) / 1e12
                        }
                    }
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        return LatencySummary(samples)
    }

    /// Chunks per second over `clients` streams at once (all chunks / wall time).
    static func rate(port: Int, clients: Int) async throws -> Double {
        let started = ContinuousClock.now
        let chunks = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask { try await OllamaBench.onThread { try RawHTTPReader.stream(port: port, path: "/api/generate", body: streamBody).count } }
            }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        return Double(chunks) / (Clock.microseconds(since: started) / 1e6)
    }

    static func shortCalls(port: Int, count: Int) async throws -> LatencySummary {
        LatencySummary(try await OllamaBench.onThread {
            try (0..<count).map { _ in
                let started = ContinuousClock.now
                _ = try RawHTTPReader.exchange(port: port, path: "/api/generate", body: shortBody)
                return Clock.microseconds(since: started)
            }
        })
    }

    static func median(_ runs: Int, _ measure: () async throws -> Double) async throws -> Double {
        var values: [Double] = []
        for _ in 0..<runs { values.append(try await measure()) }
        return values.sorted()[runs / 2]
    }
}

/// The peak RSS of a process, sampled every 10 ms on a thread of its own until `stop()`.
final class RSSSampler: @unchecked Sendable {
    private let lock = NSLock()
    private var peak = 0
    private var running = true

    init(pid: Int32) {
        Thread {
            while self.lock.withLock({ self.running }) {
                let now = ProcessStats.residentKiB(pid: pid) ?? 0
                self.lock.withLock { self.peak = max(self.peak, now) }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }.start()
    }

    func stop() -> Int {
        lock.withLock {
            running = false
            return peak
        }
    }
}
