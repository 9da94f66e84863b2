import Foundation
import GPUCtlModels

/// A `POST /prompt` body as the ComfyUI door reads it, refused in ComfyUI's own words when
/// ComfyUI would refuse it before queueing anything (../shared/reference/comfyui-api.md §2).
/// Everything else about the graph is ComfyUI's to check, when gpuctld submits it.
struct ComfyPrompt: Sendable, Equatable {
    var graph: JSONValue
    /// The page's WebSocket session, which ComfyUI sends the prompt's events to.
    var clientID: String?
    /// The id the page chose (a canonical UUID); nil: gpuctld picks one.
    var promptID: String?
    var extraData: JSONValue?

    /// ComfyUI's 400 body: `{"error": {type, message, details, extra_info}, "node_errors": {}}`.
    struct Refusal: Error, Equatable {
        var type: String
        var message: String
        var details: String

        var body: JSONValue {
            ["error": ["type": .string(type), "message": .string(message), "details": .string(details), "extra_info": [:]],
             "node_errors": [:]]
        }
    }

    static func parse(_ bytes: some Collection<UInt8>) -> Result<ComfyPrompt, Refusal> {
        guard let body = try? JSONParser.parse(bytes), body.objectValue != nil else {
            return .failure(Refusal(type: "invalid_prompt", message: "The request body is not a JSON object",
                                    details: "POST /prompt takes {\"prompt\": {…graph…}, \"client_id\": …}"))
        }
        guard let graph = body["prompt"], graph != .null else {
            return .failure(Refusal(type: "no_prompt", message: "No prompt provided", details: "No prompt provided"))
        }
        guard let nodes = graph.objectValue, !nodes.isEmpty else {
            return .failure(Refusal(type: "invalid_prompt", message: "The prompt is not an API-format graph",
                                    details: "'prompt' must be an object of nodes like {\"1\": {\"class_type\": …, \"inputs\": {…}}}"))
        }
        for (id, node) in nodes.sorted(by: { $0.key < $1.key }) {
            guard node["class_type"]?.stringValue != nil, node["inputs"]?.objectValue != nil else {
                return .failure(Refusal(type: "invalid_prompt",
                                        message: "Cannot execute because a node is missing the class_type property.",
                                        details: "Node ID '#\(id)'"))
            }
        }
        var promptID: String?
        switch body["prompt_id"] {
        case nil, .null?: break
        case .string(let text)? where Self.isCanonicalUUID(text): promptID = text
        case let other?:
            return .failure(Refusal(type: "invalid_prompt_id", message: "Invalid prompt_id format",
                                    details: "prompt_id must be a lowercase UUID like 3f2b…-…, not \(other.jsonText)"))
        }
        let clientID = body["client_id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let extra = body["extra_data"].flatMap { $0.objectValue == nil ? nil : $0 }
        return .success(ComfyPrompt(graph: graph, clientID: clientID, promptID: promptID, extraData: extra))
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex: what newer ComfyUIs accept, and
    /// safe as a job id (it names the job's output folder).
    static func isCanonicalUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                else { return false }
            }
        }
        return true
    }

    /// The output nodes of a graph as ComfyUI lists them in a queue entry: those no other
    /// node takes an input from.
    static func outputNodes(of graph: JSONValue) -> [String] {
        let nodes = graph.objectValue ?? [:]
        var linked = Set<String>()
        for node in nodes.values {
            for input in (node["inputs"]?.objectValue ?? [:]).values {
                if case .array(let link) = input, link.count == 2, let source = link[0].stringValue { linked.insert(source) }
            }
        }
        return nodes.keys.filter { !linked.contains($0) }.sorted()
    }
}
