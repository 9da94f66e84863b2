import Foundation
import GPUCtlModels

/// `gpuctl ps` as a table.
public enum ModelsRenderer {
    public static func render(_ list: ModelsListResult, all: Bool, now: Date = Date()) -> String {
        let rows = list.models.filter { all || $0.state != "absent" }
        var lines = ["Budget \(list.budget.budget): \(list.used) held by models, \(ByteSize(bytes: list.budget.budget.bytes - min(list.budget.budget.bytes, list.used.bytes))) free"]
        guard !rows.isEmpty else {
            lines.append(all ? "The catalog has no Ollama models." : "No model is resident (gpuctl ps --all lists the catalog).")
            return lines.joined(separator: "\n")
        }
        var table = [["NAME", "STATE", "VRAM", "KEEP", "EXPIRES", "BUSY", "NOTE"]]
        for model in rows {
            var notes: [String] = []
            if model.pinned { notes.append("pinned") }
            if !model.inCatalog { notes.append("not in catalog") }
            if let fallback = model.fallback { notes.append("fallback \(fallback)") }
            if !model.aliases.isEmpty { notes.append("aka \(model.aliases.joined(separator: ", "))") }
            let vram = model.sizeVRAM ?? model.footprint
            table.append([model.name, model.state, vram.map { "\($0)" } ?? "-", model.keepAlive ?? "-",
                          expiry(model.expiresAt, state: model.state, now: now),
                          busy(model), notes.joined(separator: "; ")])
        }
        lines += Table.lines(table)
        return ([lines[0], ""] + lines.dropFirst()).joined(separator: "\n")
    }

    /// Ollama's expires_at as "in 29m", "forever" (over 20 years out, as Ollama's CLI says) or
    /// "stopping" once it has passed.
    public static func expiry(_ text: String?, state: String, now: Date) -> String {
        guard state == "loaded", let text, let date = parse(text) else { return "-" }
        let seconds = date.timeIntervalSince(now)
        if seconds > 20 * 365 * 86400 { return "forever" }
        if seconds <= 0 { return "stopping" }
        if seconds < 60 { return "in \(Int(seconds))s" }
        if seconds < 3600 { return "in \(Int(seconds / 60))m" }
        return "in \(Int(seconds / 3600))h\(Int(seconds.truncatingRemainder(dividingBy: 3600) / 60))m"
    }

    /// RFC 3339 with `Z` or an offset; the fraction (Ollama sends up to 9 digits, more than
    /// the formatter takes) is dropped, a second is precise enough here.
    static func parse(_ text: String) -> Date? {
        var trimmed = text
        if let dot = trimmed.firstIndex(of: ".") {
            let end = trimmed[dot...].dropFirst().firstIndex { !$0.isNumber } ?? trimmed.endIndex
            trimmed.removeSubrange(dot..<end)
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: trimmed)
    }

    static func duration(ms: Double) -> String {
        ms < 1000 ? "\(Int(ms.rounded())) ms" : "\((ms / 100).rounded() / 10) s"
    }

    /// "3 running (2 Ollama door), 1 waiting": requests from a front door are named; "-" when idle.
    static func busy(_ model: ModelEntry) -> String {
        guard model.inFlight + model.waiting > 0 else { return "-" }
        let doors = (model.sources ?? [:]).filter { $0.key != RequestSource.socket.rawValue && $0.value > 0 }
            .sorted { $0.key < $1.key }
            .map { "\($0.value) \(RequestSource(rawValue: $0.key)?.label ?? $0.key)" }
        let via = doors.isEmpty ? "" : " (\(doors.joined(separator: ", ")))"
        return "\(model.inFlight) running\(via), \(model.waiting) waiting"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
