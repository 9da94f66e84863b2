import Foundation
import GPUCtlModels

/// Every workflow template of a folder: the valid ones by name, and the broken ones with what
/// is wrong (reported and skipped, never fatal).
public struct WorkflowCatalog: Sendable, Equatable {
    public var templates: [String: WorkflowTemplate]
    public var broken: [WorkflowError]

    public init(templates: [String: WorkflowTemplate] = [:], broken: [WorkflowError] = []) {
        self.templates = templates
        self.broken = broken
    }

    /// Reads `NAME.json` + `NAME.params.json` pairs through `read` (file name → contents).
    public static func load(fileNames: [String], read: (String) -> Data?) -> WorkflowCatalog {
        var catalog = WorkflowCatalog()
        let names = fileNames.filter { $0.hasSuffix(".params.json") }.map { String($0.dropLast(".params.json".count)) }.sorted()
        for name in names {
            guard let graph = read("\(name).json") else {
                catalog.broken.append(WorkflowError(workflow: name, problems: ["\(name).params.json has no \(name).json beside it"]))
                continue
            }
            guard let schema = read("\(name).params.json") else { continue }
            do {
                catalog.templates[name] = try WorkflowParser.parse(name: name, graph: graph, schema: schema)
            } catch {
                catalog.broken.append(error)
            }
        }
        return catalog
    }

    /// The VRAM a template needs: its explicit estimate, else the sum of its checkpoints'
    /// declared sizes in the model catalog; nil when neither is known.
    public func vram(of template: WorkflowTemplate, models: Catalog) -> ByteSize? {
        if let vram = template.vram { return vram }
        let sizes = template.checkpoints.compactMap { models.model(named: $0)?.vram.bytes }
        guard !sizes.isEmpty, sizes.count == template.checkpoints.count else { return nil }
        return ByteSize(bytes: sizes.saturatingSum())
    }
}
