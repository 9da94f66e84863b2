import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl workflows`: the ComfyUI templates the daemon can run, their parameters and VRAM.
struct WorkflowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows", abstract: "List the ComfyUI workflow templates, their parameters and VRAM.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.show(.workflowsList, as: WorkflowsListResult.self, render: WorkflowsRenderer.render)
    }
}

/// The workflow list as text: one block per template, parameters with their type and default.
public enum WorkflowsRenderer {
    public static func render(_ list: WorkflowsListResult) -> String {
        guard !list.workflows.isEmpty || !list.broken.isEmpty else {
            return list.directory.map { "No workflow templates in \($0)." }
                ?? "No workflow folder (set --workflows on the daemon, or GPUCTL_WORKFLOWS)."
        }
        var lines: [String] = []
        for workflow in list.workflows {
            let vram = workflow.vram.map { "\($0)" } ?? "VRAM unknown"
            lines.append("\(workflow.name)  (\(vram))  \(workflow.description)")
            for parameter in workflow.parameters {
                let type = parameter.choices.map { $0.joined(separator: "|") } ?? parameter.type
                let detail = parameter.required ? "required" : parameter.defaultValue.map { "default \($0.jsonText)" } ?? "optional"
                lines.append("    \(parameter.name)=\(type)  \(detail)  \(parameter.description)".trimmingTrailingSpaces())
            }
        }
        for broken in list.broken {
            lines.append("\(broken.name)  SKIPPED: \(broken.problems.joined(separator: "; "))")
        }
        return lines.joined(separator: "\n")
    }
}

/// `gpuctl free`: ComfyUI unloads its models and caches; prints the VRAM that came back.
struct FreeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "free", abstract: "Ask ComfyUI to unload its models and caches, and show the VRAM that came back.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.show(.comfyFree, as: ComfyFreeResult.self) { result in
            let took = ModelsRenderer.duration(ms: result.elapsedMs)
            return result.confirmed
                ? "ComfyUI freed \(result.freed) (held \(result.heldBefore) → \(result.heldAfter)) in \(took)"
                : "ComfyUI still holds \(result.heldAfter) after \(took) (held \(result.heldBefore)): it frees after the prompt it is running; try again when it is done"
        }
    }
}
