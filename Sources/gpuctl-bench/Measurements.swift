import Foundation
import GPUCtlRPC

/// Percentiles of a set of durations, in microseconds.
struct LatencySummary {
    var count: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var mean: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        func at(_ quantile: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))] }
        count = sorted.count
        p50 = at(0.50)
        p99 = at(0.99)
        p999 = at(0.999)
        mean = sorted.reduce(0, +) / Double(max(1, sorted.count))
    }
}

enum Clock {
    static func microseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
    }
}

/// Round trips of one line over a Unix socket, as a client sees them.
enum RoundTrips {
    static let pingLine = Data(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8 + [UInt8(ascii: "\n")])

    /// Sequential round trips on one connection; returns each one's latency in µs.
    static func latencies(socket: String, warmup: Int, count: Int) throws -> [Double] {
        let client = try RPCClient(socketPath: socket, timeout: .seconds(10))
        for _ in 0..<warmup {
            try client.sendRaw(pingLine)
            _ = try client.readLine()
        }
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = ContinuousClock.now
            try client.sendRaw(pingLine)
            _ = try client.readLine()
            samples.append(Clock.microseconds(since: start))
        }
        return samples
    }

    /// `connections` clients, each on its own thread, each doing sequential round trips for
    /// `seconds`; returns round trips per second, all together.
    static func throughput(socket: String, connections: Int, seconds: Double) throws -> Double {
        let clients = try (0..<connections).map { _ in try RPCClient(socketPath: socket, timeout: .seconds(10)) }
        let tally = Tally(connections)
        let group = DispatchGroup()
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        for (index, client) in clients.enumerated() {
            group.enter()
            let thread = Thread {
                var done = 0
                var failure: Error?
                do {
                    while ContinuousClock.now < deadline {
                        try client.sendRaw(pingLine)
                        _ = try client.readLine()
                        done += 1
                    }
                } catch {
                    failure = error
                }
                tally.record(index, done, failure)
                group.leave()
            }
            thread.start()
        }
        group.wait()
        if let failure = tally.failure { throw failure }
        let elapsed = Clock.microseconds(since: start) / 1e6
        let counts = tally.counts
        return Double(counts.reduce(0, +)) / elapsed
    }
}

/// Reads a process's resident memory and CPU time from /proc.
enum ProcessStats {
    static func residentKiB(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    /// The private anonymous memory (heap, stacks): what the process itself allocated, without
    /// the pages of code it shares with every other Swift program.
    static func anonymousKiB(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    /// utime + stime, in clock ticks.
    static func cpuTicks(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 (1-based over the whole line).
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    static var ticksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }
}

/// Per-thread results of a throughput run.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int]
    private var firstFailure: Error?

    init(_ count: Int) { values = Array(repeating: 0, count: count) }

    func record(_ index: Int, _ done: Int, _ failure: Error?) {
        lock.withLock {
            values[index] = done
            if firstFailure == nil { firstFailure = failure }
        }
    }

    var counts: [Int] { lock.withLock { values } }
    var failure: Error? { lock.withLock { firstFailure } }
}
