import Foundation

extension Report {
    static let doorTitle = "## Ollama door: through gpuctld versus straight to Ollama (issue #12)"

    /// `text` with the section that starts with `title` replaced by `section` (up to the next
    /// `## ` heading), or with `section` added before the first section after it would go.
    static func replacingSection(_ title: String, with section: String, in text: String) -> String {
        let body = section.trimmingCharacters(in: .newlines) + "\n"
        guard let start = text.range(of: title) else {
            return text.trimmingCharacters(in: .newlines) + "\n\n" + body
        }
        let rest = text[start.upperBound...]
        let end = rest.range(of: "\n## ")?.lowerBound ?? text.endIndex
        return String(text[..<start.lowerBound]) + body + (end < text.endIndex ? String(text[end...]) : "")
    }

    static func doorSection(_ numbers: DoorNumbers) -> String {
        func mark(_ met: Bool) -> String { met ? "met" : "**missed**" }
        func ms(_ micros: Double) -> String { String(format: "%.2f ms", micros / 1000) }
        func rate(_ value: Double) -> String { String(format: "%.0f/s", value) }
        let direct1 = numbers.firstChunk1Direct!, door1 = numbers.firstChunk1Door!
        let direct32 = numbers.firstChunk32Direct!, door32 = numbers.firstChunk32Door!
        let shortDirect = numbers.shortDirect!, shortDoor = numbers.shortDoor!
        let added1 = door1.p50 - direct1.p50, added32 = door32.p50 - direct32.p50, addedShort = shortDoor.p50 - shortDirect.p50
        let ratio1 = numbers.tokensPerSecond1Door / max(1, numbers.tokensPerSecond1Direct)
        let ratio32 = numbers.tokensPerSecond32Door / max(1, numbers.tokensPerSecond32Direct)
        return """
            \(doorTitle)

            `swift build -c release && .build/release/gpuctl-bench door` (writes this section). The fake
            Ollama of GPUCtlTestSupport runs in the benchmark's process with no token delay; a release
            `gpuctld --ollama-listen 127.0.0.1:0` stands in front of it. The same client (a blocking
            socket per request on a thread of its own, HTTP/1.1 written by hand, `Connection: close`)
            reads the fake directly and through the door, in the same run, on a machine of
            \(ProcessInfo.processInfo.activeProcessorCount) cores shared by the fake, the daemon and the clients. The model is resident
            throughout: this measures the door and the Scheduler's go-ahead, not a load.

            | | direct p50 | door p50 | door p99 | added at p50 | target | |
            |---|---|---|---|---|---|---|
            | first chunk, 1 client (\(direct1.count) requests) | \(ms(direct1.p50)) | \(ms(door1.p50)) | \(ms(door1.p99)) | \(ms(added1)) | ≤ 1 ms | \(mark(added1 <= 1000)) |
            | first chunk, 32 clients at once (\(direct32.count) requests) | \(ms(direct32.p50)) | \(ms(door32.p50)) | \(ms(door32.p99)) | \(ms(added32)) | ≤ 1 ms | \(mark(added32 <= 1000)) |
            | short non-streamed generate (\(shortDirect.count) calls) | \(ms(shortDirect.p50)) | \(ms(shortDoor.p50)) | \(ms(shortDoor.p99)) | \(ms(addedShort)) | ≤ 0.5 ms | \(mark(addedShort <= 500)) |

            | chunks relayed | direct | door | door / direct | target | |
            |---|---|---|---|---|---|
            | 1 stream of \(numbers.streamTokens) (median of 5) | \(rate(numbers.tokensPerSecond1Direct)) | \(rate(numbers.tokensPerSecond1Door)) | \(String(format: "%.2f×", ratio1)) | ≥ 0.9× | \(mark(ratio1 >= 0.9)) |
            | 32 streams of \(numbers.streamTokens) at once | \(rate(numbers.tokensPerSecond32Direct)) | \(rate(numbers.tokensPerSecond32Door)) | \(String(format: "%.2f×", ratio32)) | ≥ 0.9× | \(mark(ratio32 >= 0.9)) |

            gpuctld's RSS: \(numbers.idleRSSKiB / 1024) MiB before, a peak of \(numbers.peakRSSKiB32 / 1024) MiB during the 32 streams.
            gpuctld's CPU time per short call through the door: \(String(format: "%.0f µs", numbers.cpuMicrosPerShortCall))
            (user + system, from /proc; the clock tick is 10 ms, over 500 calls).
            For scale, two existing Python brokers measured on the same kind of stub took 9–23 ms to
            the first chunk with one client, 0.7–1 s with eight, and relayed 0.01–0.06× of direct throughput.

            """
    }
}
