import GPUCtlModels

/// `gpuctl ps` as a table.
enum ModelsRenderer {
    static func render(_ list: ModelsListResult, all: Bool) -> String {
        let rows = list.models.filter { all || $0.state != "absent" }
        var lines = ["Budget \(list.budget.budget): \(list.used) held by models, \(ByteSize(bytes: list.budget.budget.bytes - min(list.budget.budget.bytes, list.used.bytes))) free"]
        guard !rows.isEmpty else {
            lines.append(all ? "The catalog has no Ollama models." : "No model is resident (gpuctl ps --all lists the catalog).")
            return lines.joined(separator: "\n")
        }
        var table = [["NAME", "STATE", "VRAM", "KEEP", "BUSY", "NOTE"]]
        for model in rows {
            var notes: [String] = []
            if model.pinned { notes.append("pinned") }
            if !model.inCatalog { notes.append("not in catalog") }
            if let fallback = model.fallback { notes.append("fallback \(fallback)") }
            if !model.aliases.isEmpty { notes.append("aka \(model.aliases.joined(separator: ", "))") }
            let vram = model.sizeVRAM ?? model.footprint
            table.append([model.name, model.state, vram.map { "\($0)" } ?? "-", model.keepAlive ?? "-",
                          model.inFlight + model.waiting > 0 ? "\(model.inFlight) running, \(model.waiting) waiting" : "-",
                          notes.joined(separator: "; ")])
        }
        let widths = (0..<table[0].count).map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            let padded = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            lines.append(padded.joined(separator: "  ").trimmingTrailingSpaces())
        }
        return ([lines[0], ""] + lines.dropFirst()).joined(separator: "\n")
    }

    static func duration(ms: Double) -> String {
        ms < 1000 ? "\(Int(ms.rounded())) ms" : "\((ms / 100).rounded() / 10) s"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
