import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GPUCtlRPC

/// Percentiles of a set of durations, in microseconds.
struct LatencySummary {
    var count: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var mean: Double
    var max: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        func at(_ quantile: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))] }
        count = sorted.count
        p50 = at(0.50)
        p99 = at(0.99)
        p999 = at(0.999)
        mean = sorted.reduce(0, +) / Double(Swift.max(1, sorted.count))
        max = sorted.last ?? 0
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

/// Many connections driven by one thread with poll(2): each has one request outstanding at a
/// time, as a sequential client would, but the load generator itself costs little CPU, so on a
/// 2-core machine the server (not 64 client threads) is what gets measured.
enum PolledClients {
    static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: Array(path.utf8) + [0]) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, result == 0 else { throw RPCClientError.notRunning(path: path, reason: String(cString: strerror(errno))) }
        return fd
    }

    static func throughput(socket path: String, connections: Int, seconds: Double) throws -> Double {
        let fds = try (0..<connections).map { _ in try connect(path) }
        defer { fds.forEach { close($0) } }
        let line = [UInt8](RoundTrips.pingLine)
        func sendPing(_ fd: Int32) { _ = line.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var completed = 0
        fds.forEach(sendPing)
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            guard poll(&polls, nfds_t(polls.count), 100) > 0 else { continue }
            for index in polls.indices where polls[index].revents & Int16(POLLIN) != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(polls[index].fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { throw RPCClientError.closed(path: path) }
                // Replies are one line each, and each connection has one request outstanding.
                let replies = buffer[0..<count].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                completed += replies
                if replies > 0 { sendPing(polls[index].fd) }
            }
        }
        return Double(completed) / (Clock.microseconds(since: start) / 1e6)
    }
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
