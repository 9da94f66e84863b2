import Foundation

/// Every pipeline of `Workflows/pipelines/`: the valid ones by name, and the broken ones with
/// what is wrong (reported and skipped, never fatal), checked against the workflow templates.
public struct PipelineCatalog: Sendable, Equatable {
    public var definitions: [String: PipelineDefinition]
    public var broken: [PipelineError]

    public init(definitions: [String: PipelineDefinition] = [:], broken: [PipelineError] = []) {
        self.definitions = definitions
        self.broken = broken
    }

    /// Reads each `NAME.json` of `fileNames` through `read`.
    public static func load(fileNames: [String], workflows: WorkflowCatalog, read: (String) -> Data?) -> PipelineCatalog {
        var catalog = PipelineCatalog()
        for file in fileNames.filter({ $0.hasSuffix(".json") }).sorted() {
            let name = String(file.dropLast(".json".count))
            guard PipelineParser.isIdentifier(name) else {
                catalog.broken.append(PipelineError(pipeline: name, problems: ["the file name must be letters, digits, '_' and '-' (it is the pipeline's name)"]))
                continue
            }
            guard let data = read(file) else {
                catalog.broken.append(PipelineError(pipeline: name, problems: ["the file cannot be read"]))
                continue
            }
            do {
                catalog.definitions[name] = try PipelineParser.parse(name: name, data: data, workflows: workflows.templates)
            } catch {
                catalog.broken.append(error)
            }
        }
        return catalog
    }
}
