import GPUCtlModels

/// Jobs as text: a table, one job in full, a progress line.
public enum JobsRenderer {
    public static func table(_ jobs: [JobInfo]) -> String {
        guard !jobs.isEmpty else { return "No jobs." }
        var rows = [["ID", "STATE", "CLASS", "WORKFLOW", "CREATED", "DETAIL"]]
        for job in jobs {
            let detail: String
            if let error = job.error, job.state != "succeeded" {
                detail = error
            } else if let outputs = job.outputs {
                detail = outputs.count == 1 ? outputs[0].path : "\(outputs.count) files"
            } else if let progress = job.progress {
                detail = progressLine(JobNotification(job: job.id, progress: progress))
            } else {
                detail = ""
            }
            rows.append([job.id, job.state, job.jobClass, job.pipeline.map { "pipeline \($0)" } ?? job.workflow ?? "(graph)", job.createdAt, detail])
        }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            (0..<5).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + row[5]
        }.joined(separator: "\n").trimmingTrailingSpaces()
    }

    public static func detail(_ job: JobInfo) -> String {
        if job.pipeline != nil { return pipelineDetail(job) }
        var lines = [
            "job       \(job.id)",
            "state     \(job.state)",
            "workflow  \(job.workflow ?? "(raw graph)")",
            "class     \(job.jobClass)   vram \(job.vram)   timeout \(Int(job.timeoutSeconds)) s   attempts \(job.attempts)",
            "prompt    \(job.promptId ?? "-")",
            "created   \(job.createdAt)",
        ]
        if let progress = job.progress { lines.append("progress  \(progressLine(JobNotification(job: job.id, progress: progress)))") }
        if let error = job.error { lines.append("error     \(error)") }
        for change in job.history ?? [] {
            lines.append("  \(change.at)  \(change.state)\(change.message.map { "  \($0)" } ?? "")")
        }
        for output in job.outputs ?? [] {
            lines.append("output    \(output.path)  (\(output.contentType), \(ByteSize(bytes: UInt64(output.bytes))))")
        }
        return lines.joined(separator: "\n")
    }

    /// A pipeline run: its steps with timings and outputs (a failed optional step with why),
    /// then its result.
    static func pipelineDetail(_ job: JobInfo) -> String {
        var lines = [
            "job       \(job.id)",
            "state     \(job.state)",
            "pipeline  \(job.pipeline ?? "")",
            "class     \(job.jobClass)",
            "created   \(job.createdAt)",
            "updated   \(job.updatedAt)",
        ]
        if let error = job.error { lines.append("error     \(error)") }
        lines += PipelineRenderer.steps(job.steps ?? [])
        if job.result != nil {
            lines.append("result")
            lines += PipelineRenderer.result(job).split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// `running  node 5 KSampler  [#######.........] 7/20  2/7 nodes`, or the new state.
    public static func progressLine(_ note: JobNotification) -> String {
        guard let progress = note.progress else { return note.state ?? "" }
        var text = "running"
        if let node = progress.node { text += "  node \(node)\(progress.nodeType.map { " \($0)" } ?? "")" }
        if let value = progress.value, let max = progress.max, max > 0 {
            let filled = min(20, value * 20 / max)
            text += "  [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 20 - filled) + "] \(value)/\(max)"
        }
        if progress.nodesTotal > 0 { text += "  \(progress.nodesDone)/\(progress.nodesTotal) nodes" }
        return text
    }
}
