import Foundation
import GPUCtlModels

/// Turns a `status` result into the table `gpuctl status` prints. Pure, so it is tested on values.
public enum StatusRenderer {
    public static func render(_ status: StatusResult, color: Bool = false, barWidth: Int = 30) -> String {
        let paint = Painter(enabled: color)
        var lines: [String] = []
        let daemon = status.daemon
        lines.append("gpuctld \(daemon.version)  up \(duration(daemon.uptimeSeconds))  pid \(daemon.pid)  socket \(daemon.socket)")
        lines.append("")
        let gpu = status.gpu
        lines.append("GPU     \(gpu.name) (\(gpu.source.rawValue))")
        let usedNote = gpu.source == .declared ? "usage unknown without a readable GPU" : "\(gpu.free) free"
        lines.append("VRAM    \(bar(used: gpu.used.bytes, total: gpu.total.bytes, width: barWidth, paint: paint))  \(gpu.used) used of \(gpu.total) (\(usedNote))")
        let budget = status.budget
        lines.append("Budget  \(budget.budget) = \(budget.total) total − \(budget.reserve) reserve − \(budget.foreign) foreign")
        if let error = gpu.lastError { lines.append(paint.red("        last GPU sample failed: \(error)")) }
        let foreign = gpu.processes.filter { $0.owner == "foreign" }
        for process in foreign.prefix(5) {
            lines.append("        foreign: pid \(process.pid) \(process.name.prefix(40)) \(process.used)")
        }
        lines.append("")
        var rows = [["BACKEND", "STATE", "VERSION", "LATENCY", "URL", "NOTE"]]
        for (name, backend) in [("ollama", status.backends.ollama), ("comfyui", status.backends.comfyui)]
            + (status.backends.byBackend[.tts].map { [("tts", $0)] } ?? []) {
            rows.append([name, backend.state.rawValue, backend.version ?? "-",
                         backend.latencyMs.map { "\($0) ms" } ?? "-", backend.url,
                         backend.untrusted.map { _ in "untrusted: its identity changed (gpuctl doctor)" } ?? backend.lastError ?? ""])
        }
        lines += table(rows).enumerated().map { index, line in
            guard index > 0 else { return line }
            let state = rows[index][1]
            return state == "up" ? line.replacingFirst(" up ", with: " \(paint.green("up")) ")
                : state == "down" ? line.replacingFirst(" down ", with: " \(paint.red("down")) ") : line
        }
        lines.append("")
        let catalog = status.catalog
        let source = catalog.path.map { " from \($0)" } ?? " (no models.json found)"
        lines.append("Catalog \(catalog.models) models (\(catalog.ollama) ollama, \(catalog.comfyui) comfyui, \(catalog.pinned) pinned)\(source)")
        let jobs = status.jobs
        lines.append("Jobs    \(jobs.queued) queued, \(jobs.running) running, \(jobs.succeeded) succeeded, \(jobs.failed) failed, \(jobs.cancelled) cancelled")
        return lines.joined(separator: "\n")
    }

    /// `[██████░░░░░░]`: filled in proportion to used/total.
    static func bar(used: UInt64, total: UInt64, width: Int, paint: Painter) -> String {
        let filled = total == 0 ? 0 : min(width, Int((Double(used) / Double(total) * Double(width)).rounded()))
        return "[" + paint.yellow(String(repeating: "█", count: filled)) + String(repeating: "░", count: width - filled) + "]"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        if total < 86400 { return "\(total / 3600)h \(total % 3600 / 60)m" }
        return "\(total / 86400)d \(total % 86400 / 3600)h"
    }

    /// Left-aligned columns, two spaces apart, trailing spaces trimmed.
    static func table(_ rows: [[String]]) -> [String] {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            var line = ""
            for (column, cell) in row.enumerated() {
                line += cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}

/// ANSI colours, or plain text when disabled.
struct Painter {
    var enabled: Bool
    func green(_ text: String) -> String { enabled ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
    func red(_ text: String) -> String { enabled ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
    func yellow(_ text: String) -> String { enabled ? "\u{1B}[33m\(text)\u{1B}[0m" : text }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
