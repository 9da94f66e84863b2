import Foundation
import GPUCtlModels

/// Pipelines as text: the list, a line per step, a run's steps and its result.
public enum PipelineRenderer {
    public static func list(_ list: PipelinesListResult) -> String {
        guard !list.pipelines.isEmpty || !list.broken.isEmpty else {
            return list.directory.map { "No pipelines in \($0)." }
                ?? "No workflow folder, so no pipelines (set --workflows on the daemon, or GPUCTL_WORKFLOWS)."
        }
        var lines: [String] = []
        for pipeline in list.pipelines {
            lines.append("\(pipeline.name)  \(pipeline.description)")
            for input in pipeline.inputs {
                let detail = input.required ? "required" : input.defaultValue.map { "default \($0.jsonText)" } ?? "optional"
                lines.append("    \(input.name)=\(input.type)  \(detail)  \(input.description)".trimmingTrailingSpaces())
            }
            let steps = pipeline.steps.map { step in
                var text = "\(step.id) (\(step.kind)\(step.uses.map { " \($0)" } ?? "")"
                if step.forEach != nil { text += ", for each" }
                if step.optional { text += ", optional" }
                return text + ")"
            }
            lines.append("    steps: " + steps.joined(separator: " → "))
        }
        for broken in list.broken {
            lines.append("\(broken.name)  SKIPPED: \(broken.problems.joined(separator: "; "))")
        }
        return lines.joined(separator: "\n")
    }

    /// `caption[3]  succeeded  1.2 s`, `illustration  failed (optional, the run went on): why`.
    public static func stepLine(_ step: PipelineStepInfo) -> String {
        var text = "\(name(step))  \(step.state)"
        if step.attempts > 1 { text += " (attempt \(step.attempts))" }
        if let elapsed = step.elapsedMs { text += "  \(ModelsRenderer.duration(ms: elapsed))" }
        if let error = step.error {
            text += step.optional && step.state == "failed" ? " (optional, the run went on): \(error)" : ": \(error)"
        }
        return text
    }

    /// The rows of `gpuctl job ID` for a pipeline run: each step with what it made.
    static func steps(_ steps: [PipelineStepInfo]) -> [String] {
        steps.flatMap { step -> [String] in
            var lines = ["step      \(stepLine(step))"]
            if let job = step.job { lines.append("            job \(job)") }
            if let output = step.output { lines += summary(output).map { "            \($0)" } }
            return lines
        }
    }

    /// The run's result: a `key: value` line per field, texts as they are, lists one per line.
    public static func result(_ job: JobInfo) -> String {
        guard case .object(let fields)? = job.result else { return job.result.map(text) ?? "" }
        return fields.sorted { $0.key < $1.key }.map { key, value in
            switch value {
            case .array(let items) where items.allSatisfy({ if case .object = $0 { false } else { true } }):
                return "\(key):\n" + items.map { "  \(text($0))" }.joined(separator: "\n")
            default:
                return "\(key): \(text(value))"
            }
        }.joined(separator: "\n")
    }

    private static func name(_ step: PipelineStepInfo) -> String {
        step.item.map { "\(step.step)[\($0)]" } ?? step.step
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let string): string
        case .null: "(none)"
        default: value.jsonText
        }
    }

    /// What a step made, shortly: its files, else its text (one line, at most 100 characters).
    private static func summary(_ output: JSONValue) -> [String] {
        if let files = output["files"]?.arrayValue?.compactMap(\.stringValue), !files.isEmpty { return files }
        if let text = output["text"]?.stringValue {
            let line = text.replacingOccurrences(of: "\n", with: " ")
            return [line.count > 100 ? String(line.prefix(99)) + "…" : line]
        }
        if let count = output["count"], let dimensions = output["dimensions"] {
            return ["\(count.jsonText) vectors of \(dimensions.jsonText) dimensions"]
        }
        return []
    }
}
