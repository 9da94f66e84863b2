import Foundation
import GPUCtlModels

/// A picture of what held the card under each policy: one band per policy, one row per
/// holder (a model, ComfyUI), a bar where it held memory (darker for more), red marks where
/// the card ran out of memory. Long traces are cut to their first `hours`.
public enum TimelineSVG {
    public static func render(_ report: ComparisonReport, hours: Double = 2) -> String {
        let horizon = min(hours * 3_600, max(1, report.results.map(\.makespan).max() ?? 1))
        let holders = Array(Set(report.results.flatMap { $0.timeline.map(\.holder) })).sorted()
        let width = 1_000.0, labelWidth = 170.0, rowHeight = 12.0, bandGap = 26.0
        let bandHeight = Double(max(1, holders.count)) * rowHeight
        let height = 40 + Double(report.results.count) * (bandHeight + bandGap) + 20
        let scale = width / horizon
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(labelWidth + width + 20))" height="\(Int(height))" font-family="sans-serif" font-size="11">
        <text x="4" y="16" font-size="13">\(escape(report.title))\(horizon < (report.results.map(\.makespan).max() ?? 0) ? " — first \(format(hours)) h" : "")</text>

        """
        for (band, result) in report.results.enumerated() {
            let top = 40 + Double(band) * (bandHeight + bandGap)
            svg += "<text x=\"4\" y=\"\(format(top - 4))\" font-weight=\"bold\">\(escape(result.policy)) — \(result.outOfMemory) out of memory, \(result.loads) loads</text>\n"
            for (row, holder) in holders.enumerated() {
                let y = top + Double(row) * rowHeight
                svg += "<text x=\"14\" y=\"\(format(y + rowHeight - 2))\" fill=\"#555\">\(escape(holder))</text>\n"
                svg += "<rect x=\"\(format(labelWidth))\" y=\"\(format(y))\" width=\"\(format(width))\" height=\"\(format(rowHeight - 1))\" fill=\"#f4f4f4\"/>\n"
            }
            let rowOf = Dictionary(uniqueKeysWithValues: holders.enumerated().map { ($1, $0) })
            for segment in result.timeline where segment.start < horizon {
                let x = labelWidth + segment.start * scale
                let barWidth = max(0.5, (min(segment.end, horizon) - segment.start) * scale)
                let y = top + Double(rowOf[segment.holder] ?? 0) * rowHeight
                let shade = 0.35 + 0.65 * min(1, Double(segment.bytes) / Double(max(1, report.card.cardBytes)) * 2)
                svg += "<rect x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(barWidth))\" height=\"\(format(rowHeight - 1))\" fill=\"\(color(segment.holder))\" fill-opacity=\"\(format(shade))\"><title>\(escape(segment.holder)) \(ByteSize(bytes: segment.bytes)) from \(format(segment.start)) s to \(format(segment.end)) s</title></rect>\n"
            }
            for mark in result.outOfMemoryAt where mark < horizon {
                let x = labelWidth + mark * scale
                svg += "<line x1=\"\(format(x))\" y1=\"\(format(top))\" x2=\"\(format(x))\" y2=\"\(format(top + bandHeight))\" stroke=\"#d00\" stroke-width=\"1.5\"/>\n"
            }
        }
        return svg + "</svg>\n"
    }

    static func color(_ holder: String) -> String {
        if holder == SimulatedWorld.comfyHolder { return "#7b3fb5" }
        let palette = ["#1f77b4", "#2ca02c", "#ff7f0e", "#17becf", "#8c564b", "#bcbd22", "#e377c2", "#7f7f7f"]
        let hash = holder.unicodeScalars.reduce(UInt32(2_166_136_261)) { ($0 ^ $1.value) &* 16_777_619 }
        return palette[Int(hash % UInt32(palette.count))]
    }

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
