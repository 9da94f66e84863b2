import Foundation
import GPUCtlTestSupport

extension Report {
    static let soakTitle = "## Soak: mixed work with faults for an hour (issue 15)"

    static func soakSection(_ numbers: SoakBench.Numbers, command: String) -> String {
        let settings = numbers.settings
        let total = Double(settings.duration.components.seconds)
        let window = min(600, total / 6)
        func percentile(_ values: [Double], _ quantile: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]
        }
        func minutes(_ seconds: Double) -> String { seconds < 600 ? String(format: "%.0f s", seconds) : String(format: "%.0f min", seconds / 60) }
        func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
        func latencyRow(_ name: String, _ items: [SoakBench.Item]) -> String {
            let served = items.filter { $0.error == nil }.map(\.seconds)
            return "| \(name) | \(served.count) | \(ms(percentile(served, 0.5))) | \(ms(percentile(served, 0.95))) | \(ms(served.max() ?? 0)) |"
        }
        let first = numbers.items.filter { $0.at < window }
        let last = numbers.items.filter { $0.at >= total - window }
        let isJob = { (item: SoakBench.Item) in item.item.isJob }
        // One row per five minutes (or per sample on a short run).
        let step = max(settings.sampleEvery, .seconds(Int64(min(300, max(10, total / 12)))))
        var rows: [String] = []
        var nextAt = 0.0
        for sample in numbers.samples where sample.at >= nextAt || sample.at == numbers.samples.last?.at {
            rows.append(String(format: "| %@ | %.1f MiB | %d | %d | %.1f MiB |", minutes(sample.at), Double(sample.rssKiB) / 1024,
                               sample.threads, sample.descriptors, Double(sample.storeBytes) / 1_048_576))
            nextAt = sample.at + Double(step.components.seconds)
        }
        let errors = numbers.items.filter { $0.error != nil }
        let faultCounts = Dictionary(grouping: numbers.faults, by: \.fault).map { "\($0.key.rawValue) \($0.value.count)" }.sorted()
        let unexplained = numbers.unexplained.prefix(10).map { String(format: "- at %.0f s, %@: %@", $0.at, "\($0.item)", $0.error ?? "") }
        let afterWarmUp = numbers.samples.first { $0.at >= window } ?? numbers.samples.first
        let end = numbers.samples.last
        func growth(_ value: (SoakBench.Sample) -> Int) -> String {
            guard let from = afterWarmUp, let to = end else { return "-" }
            return "\(value(from)) → \(value(to))"
        }
        return """
            \(soakTitle)

            `\(command)` (the seed is \(settings.seed); kept out of CI). A release gpuctld and both fakes on
            one 24 GiB virtual card, keeping \(settings.keepJobs) finished jobs (`--keep-jobs`); \(settings.clients) clients each send the fault matrix's mixed work one item
            after another with up to \(settings.thinkTimeMs) ms between two (ComfyUI jobs followed to their end, streamed and whole generate and chat, embed);
            every \(settings.faultEvery) one fault (FaultInjector) is injected for \(settings.faultLasts), then healed.
            An error counts as injected when its item ran inside a fault's window or within
            \(settings.grace) after it.

            Ran for \(minutes(total)): \(numbers.items.count) items, \(numbers.faults.count) faults
            (\(faultCounts.joined(separator: ", "))), \(errors.count) errors, of which **\(numbers.unexplained.count)
            outside every fault's window**.

            | at | RSS | threads | open fds | store on disk |
            |---|---|---|---|---|
            \(rows.joined(separator: "\n"))

            From the first sample after \(minutes(window)) to the last: RSS \(growth { $0.rssKiB / 1024 }) MiB, threads
            \(growth(\.threads)), descriptors \(growth(\.descriptors)), store \(growth { $0.storeBytes / 1024 }) KiB.

            Latency of served items, first and last \(minutes(window)) (a job: submission to its end):

            | | served | p50 | p95 | max |
            |---|---|---|---|---|
            \(latencyRow("inference, first", first.filter { !isJob($0) }))
            \(latencyRow("inference, last", last.filter { !isJob($0) }))
            \(latencyRow("jobs, first", first.filter(isJob)))
            \(latencyRow("jobs, last", last.filter(isJob)))
            \(unexplained.isEmpty ? "" : "\nErrors outside the fault windows (first 10):\n\n" + unexplained.joined(separator: "\n") + "\n")
            """
    }
}
