import Foundation
import GPUCtlCore
import GPUCtlModels
import Testing

/// Workflow templates: parsing, validation with every problem named, and filling in values.
@Suite struct WorkflowTemplateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let graph = Data(#"""
    {"1": {"class_type": "EmptyImage", "inputs": {"width": 512, "height": 512, "batch_size": 1, "color": 0}},
     "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    """#.utf8)

    func parse(_ schema: String) throws(WorkflowError) -> WorkflowTemplate {
        try WorkflowParser.parse(name: "t", graph: Self.graph, schema: Data(schema.utf8))
    }

    @Test func valuesAreTypedAndFilledIn() throws {
        let template = try parse(#"""
        {"vram": "0MiB", "parameters": {
          "width": {"node": "1", "input": "width", "type": "int", "default": 512},
          "prefix": {"node": "2", "input": "filename_prefix", "type": "string", "required": true},
          "mode": {"node": "1", "input": "batch_size", "type": "choice", "choices": ["1", "2"], "default": "1"}}}
        """#)
        let graph = try template.graph(with: ["width": "640", "prefix": "cats"])
        #expect(graph["1"]?["inputs"]?["width"] == 640 && graph["2"]?["inputs"]?["filename_prefix"] == "cats")
        #expect(template.vram == ByteSize(bytes: 0))
        #expect(throws: WorkflowError(workflow: "t", problems: ["parameter 'prefix' is required ()"])) { try template.graph(with: [:]) }
        #expect(throws: WorkflowError(workflow: "t", problems: [
            "unknown parameter 'widht'; did you mean 'width'?",
            "parameter 'mode' must be one of 1, 2, not '3'",
            "parameter 'width' must be an integer, not 1.5",
        ])) { try template.graph(with: ["widht": 3, "width": 1.5, "prefix": "p", "mode": "3"]) }
    }

    @Test func aBrokenTemplateNamesEveryProblem() {
        #expect(throws: WorkflowError(workflow: "t", problems: [
            "parameter 'a' maps to node 9, which is not in the graph",
            "parameter 'b' maps to input 'widht' of node 1 (EmptyImage), which has only batch_size, color, height, width",
            "parameter 'c': the default \"big\" is not an integer",
            "parameter 'd': type must be one of string, int, float, bool, image, choice",
        ])) {
            try parse(#"""
            {"parameters": {"a": {"node": "9", "input": "x", "type": "int"},
                            "b": {"node": "1", "input": "widht", "type": "int"},
                            "c": {"node": "1", "input": "width", "type": "int", "default": "big"},
                            "d": {"node": "1", "input": "width", "type": "integer"}}}
            """#)
        }
    }

    @Test func everyShippedTemplateIsValid() throws {
        let directory = Self.root.appendingPathComponent("Workflows")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".params.json") }.map { String($0.dropLast(".params.json".count)) }
        #expect(!names.isEmpty)
        for name in names {
            let graph = try Data(contentsOf: directory.appendingPathComponent("\(name).json"))
            let schema = try Data(contentsOf: directory.appendingPathComponent("\(name).params.json"))
            let template = try WorkflowParser.parse(name: name, graph: graph, schema: schema)
            // Defaults fill in, and required values of each type are taken.
            var values: [String: JSONValue] = [:]
            for (key, parameter) in template.parameters where parameter.required {
                values[key] = switch parameter.type {
                case .int: 1
                case .float: 0.5
                case .bool: true
                case .choice: .string(parameter.choices[0])
                case .string, .image: "example.png"
                }
            }
            let filled = try template.graph(with: values)
            #expect(filled.objectValue?.count == template.graph.count, "\(name)")
            #expect(template.vram != nil || !template.checkpoints.isEmpty, "\(name) says neither its VRAM nor its checkpoints")
        }
    }
}

@Suite struct WorkflowCatalogTests {
    @Test func aBrokenTemplateIsSkippedAndNamed() {
        let files: [String: Data] = [
            "good.json": WorkflowTemplateTests.graph,
            "good.params.json": Data(#"{"checkpoints": ["v1-5-pruned-emaonly.safetensors"], "parameters": {}}"#.utf8),
            "bad.json": Data("{".utf8),
            "bad.params.json": Data("{}".utf8),
            "orphan.params.json": Data("{}".utf8),
            "notes.txt": Data(),
        ]
        let catalog = WorkflowCatalog.load(fileNames: Array(files.keys)) { files[$0] }
        #expect(catalog.templates.keys.sorted() == ["good"])
        #expect(catalog.broken.map(\.workflow) == ["bad", "orphan"])
        #expect(catalog.broken.last?.problems == ["orphan.params.json has no orphan.json beside it"])
        let models = Catalog(models: [ModelSpec(name: "v1-5-pruned-emaonly.safetensors", backend: .comfyui, vram: .gibibytes(4))])
        #expect(catalog.vram(of: catalog.templates["good"]!, models: models) == .gibibytes(4))
        #expect(catalog.vram(of: catalog.templates["good"]!, models: .empty) == nil)
    }
}
