import Foundation
import GPUCtlModels

/// The side-by-side of every policy on one trace: a table for a terminal or for BENCHMARKS.md,
/// and JSON.
public struct ComparisonReport: Sendable {
    public var trace: TraceFile
    public var card: CardSettings
    public var results: [SimulationResult]

    public init(trace: TraceFile, card: CardSettings, results: [SimulationResult]) {
        self.trace = trace
        self.card = card
        self.results = results
    }

    static let columns = ["policy", "OOM", "failed", "loads", "GiB loaded", "load s", "int p50", "int p95", "int max",
                          "batch p50", "batch p95", "makespan", "longest wait"]

    func row(_ result: SimulationResult) -> [String] {
        func seconds(_ value: Double) -> String { value >= 100 ? String(format: "%.0f", value) : String(format: "%.1f", value) }
        return [result.policy, "\(result.outOfMemory)", "\(result.failed)", "\(result.loads)",
                String(format: "%.1f", Double(result.bytesLoaded) / 1_073_741_824), seconds(result.loadSeconds),
                seconds(result.interactive.p50), seconds(result.interactive.p95), seconds(result.interactive.max),
                seconds(result.batch.p50), seconds(result.batch.p95), seconds(result.makespan), seconds(result.longestWait)]
    }

    var title: String {
        "\(trace.header.trace): \(trace.arrivals.count) arrivals on a \(ByteSize(bytes: card.cardBytes)) card"
            + " (disk \(ByteSize(bytes: UInt64(card.bandwidth)))/s); waits and times in seconds"
    }

    /// Aligned columns for a terminal.
    public func table() -> String {
        let rows = [Self.columns] + results.map(row)
        let widths = Self.columns.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        let lines = rows.map { cells in
            cells.enumerated().map { index, cell in
                index == 0 ? cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([title] + lines).joined(separator: "\n") + "\n"
    }

    /// A Markdown table, as BENCHMARKS.md holds it.
    public func markdown() -> String {
        let header = "| " + Self.columns.joined(separator: " | ") + " |"
        let rule = "|" + Self.columns.map { _ in "---" }.joined(separator: "|") + "|"
        let rows = results.map { "| " + row($0).joined(separator: " | ") + " |" }
        return (["**\(title)**", "", header, rule] + rows).joined(separator: "\n") + "\n"
    }

    /// The results without their timelines (`withTimeline` keeps them).
    public func json(withTimeline: Bool = false) -> Data {
        struct Document: Encodable {
            var trace: String
            var description: String?
            var cardBytes: UInt64
            var bandwidth: Double
            var results: [SimulationResult]
        }
        let results = withTimeline ? results : results.map { result in
            var result = result
            result.timeline = []
            result.outOfMemoryAt = []
            return result
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let document = Document(trace: trace.header.trace, description: trace.header.description, cardBytes: card.cardBytes,
                                bandwidth: card.bandwidth, results: results)
        return (try? encoder.encode(document)) ?? Data()
    }
}
