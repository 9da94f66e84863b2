import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore

/// A job's request: the graph to run (filled in from its workflow at submission, so a job never
/// depends on the template staying as it was) and the values it was given, stored in
/// `jobs.params`; and its workflow and limits, stored as columns of their own.
struct JobSpec: Sendable, Equatable {
    var workflow: String?
    /// The values the workflow was given.
    var parameters: JSONValue?
    var graph: JSONValue
    var vramBytes: UInt64
    var timeoutSeconds: Double
    /// The WebSocket session that follows the prompt in ComfyUI (a page behind the ComfyUI
    /// door); nil: gpuctld's own.
    var clientID: String?
    /// The page's `extra_data` (`extra_pnginfo` keeps the workflow in the saved PNG).
    var extraData: JSONValue?
    /// Where the job came from: the socket, or the ComfyUI door.
    var source: RequestSource = .socket

    init(workflow: String?, parameters: JSONValue?, graph: JSONValue, vramBytes: UInt64, timeoutSeconds: Double,
         clientID: String? = nil, extraData: JSONValue? = nil) {
        self.workflow = workflow
        self.parameters = parameters
        self.graph = graph
        self.vramBytes = vramBytes
        self.timeoutSeconds = timeoutSeconds
        self.clientID = clientID
        self.extraData = extraData
    }

    /// A stored job's, parsing its graph (done once, when the job is admitted).
    init(_ record: JobRecord) {
        let json = (try? JSONParser.parse(Data(record.params.utf8))) ?? [:]
        workflow = record.workflow
        parameters = json["params"]
        graph = json["graph"] ?? [:]
        clientID = json["client_id"]?.stringValue
        extraData = json["extra_data"]
        source = json["source"]?.stringValue.flatMap(RequestSource.init(rawValue:)) ?? .socket
        vramBytes = record.vramBytes
        // A row written before the limit existed (or edited by hand) must not trap on every start.
        let stored = record.timeoutSeconds
        timeoutSeconds = stored.isFinite && stored > 0 ? min(stored, SubmitParams.longestTimeout) : SubmitParams.longestTimeout
    }

    /// A new job's row, queued.
    func record(id: String, jobClass: JobClass) -> JobRecord {
        var json: [String: JSONValue] = ["graph": graph]
        if let parameters { json["params"] = parameters }
        if let clientID { json["client_id"] = .string(clientID) }
        if let extraData { json["extra_data"] = extraData }
        if source != .socket { json["source"] = .string(source.rawValue) }
        return JobRecord(id: id, kind: .comfyui, jobClass: jobClass, params: String(decoding: JSONWriter.data(.object(json)), as: UTF8.self),
                         workflow: workflow, vramBytes: vramBytes, timeoutSeconds: timeoutSeconds, promptID: id)
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

/// A job the Scheduler gave ComfyUI to, parsed once, as the runner is handed it.
struct AdmittedJob: Sendable {
    let record: JobRecord
    let spec: JobSpec

    init(_ record: JobRecord) {
        self.record = record
        spec = JobSpec(record)
    }

    /// What the job lifecycle decides on.
    var ticket: JobLifecycle.Ticket {
        JobLifecycle.Ticket(jobID: record.id, promptID: record.promptID ?? record.id, state: record.state,
                            attempts: record.attempts, timeout: .seconds(spec.timeoutSeconds), nodeTypes: spec.nodeTypes,
                            memoryRetries: record.memoryRetries)
    }
}
