import Foundation
import GPUCtlModels

/// Draws `gpuctl top`'s screen from a `TopModel`: at most `height` lines, none wider than
/// `width` columns. Pure, so every layout is tested on values.
public enum TopRenderer {
    public static func render(_ model: TopModel, width: Int, height: Int, color: Bool = false,
                              now: Date = Date()) -> [String] {
        let width = max(width, 20)
        let paint = Painter(enabled: color)
        var lines: [Line] = []
        let clock = EventsRenderer.clock(now.formatted(Date.ISO8601FormatStyle()), timeZone: .current)
        if let daemon = model.status?.daemon {
            lines.append(Line("gpuctl top · gpuctld \(daemon.version) up \(StatusRenderer.duration(daemon.uptimeSeconds)) · q quits", right: clock))
        } else {
            lines.append(Line("gpuctl top · q quits", right: clock))
        }
        if let problem = model.problem { lines.append(Line(paint.red("! \(problem)"), visible: "! \(problem)")) }
        if let status = model.status {
            lines += card(status, models: model.models, width: width, paint: paint)
            lines.append(Line(backends(status.backends, paint: paint).0, visible: backends(status.backends, paint: paint).1))
        }
        lines.append(Line(""))
        var sections: [[Line]] = [modelsSection(model.models, now: now), queueSection(model.jobs)]
        let fixed = lines.count + sections.reduce(0) { $0 + $1.count + 1 } + 1
        // What is left goes to the event log, newest last.
        let room = height - fixed
        var log = [Line("EVENTS")]
        if room > 0 {
            let latest = model.events.suffix(room).map { Line(EventsRenderer.line($0, shortIDs: true)) }
            log += latest.isEmpty ? [Line("  nothing yet")] : latest
        }
        sections.append(log)
        for (index, section) in sections.enumerated() {
            lines += section
            if index < sections.count - 1 { lines.append(Line("")) }
        }
        return lines.prefix(max(height, 1)).map { $0.fitted(to: width) }
    }

    /// The card as one bar: each resident model (1–9), ComfyUI (c), other programs (f), the
    /// reserve (r), and what is free (·); a legend with the sizes below it.
    static func card(_ status: StatusResult, models: ModelsListResult?, width: Int, paint: Painter) -> [Line] {
        let total = max(status.gpu.total.bytes, 1)
        let held = (models?.models ?? []).filter { $0.state != "absent" }
        let resident = held.map { ($0.name, ($0.sizeVRAM ?? $0.footprint)?.bytes ?? 0) }
        // ComfyUI: what gpuctld leases to it, or what the GPU says its process holds, the larger.
        let leasedToComfy = status.backends.comfyui.held?.bytes ?? 0
        let comfy = max(leasedToComfy, status.gpu.processes.filter { $0.owner == "comfyui" }.reduce(0) { $0 + $1.used.bytes })
        struct Segment {
            var glyph: Character
            var name: String
            var bytes: UInt64
            /// The ANSI colour: 36 cyan, 35 magenta, 32 green, 31 red, 2 dim.
            var color: Int
        }
        var segments: [Segment] = []
        for (index, (name, bytes)) in resident.prefix(9).enumerated() {
            segments.append(Segment(glyph: Character("\(index + 1)"), name: name, bytes: bytes, color: index % 2 == 0 ? 36 : 35))
        }
        if comfy > 0 { segments.append(Segment(glyph: "c", name: "comfyui", bytes: comfy, color: 32)) }
        if status.budget.foreign.bytes > 0 {
            segments.append(Segment(glyph: "f", name: "foreign", bytes: status.budget.foreign.bytes, color: 31))
        }
        segments.append(Segment(glyph: "r", name: "reserve", bytes: status.budget.reserve.bytes, color: 2))
        let used = segments.reduce(0) { $0 + $1.bytes }
        let barWidth = max(width - 8, 10)
        var bar = ""
        var visible = 0
        for segment in segments {
            let cells = min(barWidth - visible, Int((Double(segment.bytes) / Double(total) * Double(barWidth)).rounded()))
            guard cells > 0 else { continue }
            bar += paint.ansi(segment.color, String(repeating: segment.glyph, count: cells))
            visible += cells
        }
        bar += String(repeating: "·", count: barWidth - visible)
        var legend = segments.map { "\($0.glyph) \($0.name) \(ByteSize(bytes: $0.bytes))" }
        legend.append("· free \(ByteSize(bytes: total - min(total, used)))")
        let gpu = status.gpu
        return [
            Line("GPU   \(gpu.name) (\(gpu.source.rawValue)), \(gpu.total); budget \(status.budget.budget)"),
            Line("Card  [" + bar + "]", visible: "Card  [" + String(repeating: "x", count: barWidth) + "]"),
            Line("      " + legend.joined(separator: "  ")),
        ]
    }

    static func backends(_ backends: BackendsStatus, paint: Painter) -> (String, String) {
        var painted = "Backends"
        var plain = "Backends"
        for (name, backend) in [("ollama", backends.ollama), ("comfyui", backends.comfyui)] {
            let detail = backend.state == .up ? backend.version.map { " \($0)" } ?? "" : backend.lastError.map { ": \($0)" } ?? ""
            let state = backend.state.rawValue
            painted += "  \(name) " + (backend.state == .up ? paint.green(state) : backend.state == .down ? paint.red(state) : state) + detail
            plain += "  \(name) \(state)\(detail)"
        }
        return (painted, plain)
    }

    static func modelsSection(_ list: ModelsListResult?, now: Date) -> [Line] {
        let resident = (list?.models ?? []).filter { $0.state != "absent" }
        guard !resident.isEmpty else { return [Line("MODELS"), Line("  no model is resident")] }
        var rows = [["MODELS", "STATE", "VRAM", "EXPIRES", "BUSY"]]
        for model in resident {
            rows.append([model.name, model.state, (model.sizeVRAM ?? model.footprint).map { "\($0)" } ?? "-",
                         ModelsRenderer.expiry(model.expiresAt, state: model.state, now: now),
                         ModelsRenderer.busy(model)])
        }
        return StatusRenderer.table(rows).map { Line($0) }
    }

    static func queueSection(_ jobs: [JobInfo]) -> [Line] {
        guard !jobs.isEmpty else { return [Line("QUEUE"), Line("  no job is waiting or running")] }
        var rows = [["QUEUE", "STATE", "CLASS", "WORKFLOW", "PROGRESS"]]
        for job in jobs {
            // The state has its own column: the progress line without its "running".
            let progress = job.progress.map {
                String(JobsRenderer.progressLine(JobNotification(job: job.id, progress: $0)).dropFirst("running  ".count))
            } ?? "-"
            rows.append([String(job.id.prefix(8)), job.state, job.jobClass, job.workflow ?? "(graph)", progress])
        }
        return StatusRenderer.table(rows).map { Line($0) }
    }

    /// A screen line: what is written (maybe with colours) and what it looks like (to cut it).
    struct Line {
        var text: String
        var visible: String

        init(_ text: String, right: String? = nil) {
            self.text = text
            self.visible = text
            if let right { self.right = right }
        }

        init(_ text: String, visible: String) {
            self.text = text
            self.visible = visible
        }

        /// Text shown at the right edge when there is room.
        var right: String?

        func fitted(to width: Int) -> String {
            if let right, visible.count + right.count + 2 <= width {
                return text + String(repeating: " ", count: width - visible.count - right.count) + right
            }
            // Coloured lines are cut only if they overflow, and then lose their colours.
            guard visible.count > width else { return text }
            return String(visible.prefix(width - 1)) + "…"
        }
    }
}

extension Painter {
    func ansi(_ code: Int, _ text: String) -> String { enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
}
