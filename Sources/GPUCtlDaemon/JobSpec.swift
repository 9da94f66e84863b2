import Foundation
import GPUCtlModels
import GPUCtlStore

/// A job's request as stored in `jobs.params`: the graph to run (filled in from its workflow
/// at submission, so a job never depends on the template staying as it was), and its limits.
struct JobSpec: Sendable, Equatable {
    var workflow: String?
    /// The values the workflow was given.
    var parameters: JSONValue?
    var graph: JSONValue
    var vramBytes: UInt64
    var timeoutSeconds: Double

    init(workflow: String?, parameters: JSONValue?, graph: JSONValue, vramBytes: UInt64, timeoutSeconds: Double) {
        self.workflow = workflow
        self.parameters = parameters
        self.graph = graph
        self.vramBytes = vramBytes
        self.timeoutSeconds = timeoutSeconds
    }

    init(_ record: JobRecord) {
        let json = (try? JSONParser.parse(Data(record.params.utf8))) ?? [:]
        workflow = json["workflow"]?.stringValue
        parameters = json["params"]
        graph = json["graph"] ?? [:]
        vramBytes = if case .number(let value)? = json["vram"], value >= 0 { UInt64(value) } else { 0 }
        timeoutSeconds = if case .number(let value)? = json["timeout"] { value } else { 3600 }
    }

    /// As stored.
    var text: String {
        var json: [String: JSONValue] = ["graph": graph, "vram": .number(Double(vramBytes)), "timeout": .number(timeoutSeconds)]
        if let workflow { json["workflow"] = .string(workflow) }
        if let parameters { json["params"] = parameters }
        return String(decoding: JSONWriter.data(.object(json)), as: UTF8.self)
    }

    /// The node ids of the graph, and each one's class.
    var nodeTypes: [String: String] {
        (graph.objectValue ?? [:]).compactMapValues { $0["class_type"]?.stringValue }
    }

    /// A succeeded job's `result` column: `{"outputs":[…]}`.
    static func result(_ outputs: [JobOutput]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(["outputs": outputs])) ?? Data(#"{"outputs":[]}"#.utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func outputs(_ result: String) -> [JobOutput]? {
        (try? JSONDecoder().decode([String: [JobOutput]].self, from: Data(result.utf8)))?["outputs"]
    }
}
