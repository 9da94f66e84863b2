import Foundation
import GPUCtlModels

/// One message from ComfyUI's `/ws`, typed (../shared/reference/comfyui-api.md §5).
public enum ComfyEvent: Sendable, Equatable {
    /// Queue length; `sid` only in the first message of a connection.
    case status(queueRemaining: Int, sid: String?)
    case executionStart(promptID: String)
    /// Nodes whose cached outputs are reused (all of them on an identical re-run).
    case executionCached(promptID: String, nodes: [String])
    /// A node starts; `node == nil` marks the end of the prompt (always the last message).
    case executing(promptID: String?, node: String?)
    /// A node's progress bar (samplers, upscalers).
    case progress(promptID: String, node: String?, value: Int, max: Int)
    /// Every node that is running or finished so far, with its progress.
    case progressState(promptID: String, nodes: [String: NodeProgress])
    /// A node returned UI data (files it wrote); `output` may be null for a cached node.
    case executed(promptID: String, node: String, output: JSONValue?)
    case executionSuccess(promptID: String)
    case executionError(ExecutionFailure)
    case executionInterrupted(promptID: String, node: String?, nodeType: String?)
    case featureFlags(JSONValue)
    /// A binary preview image (JPEG or PNG bytes), with the metadata when negotiated.
    case preview(format: String, promptID: String?, node: String?, bytes: Int)
    /// A binary text frame a node pushed (e.g. GetImageSize).
    case text(node: String, text: String)
    /// A message type this client does not know; kept so nothing is silently lost.
    case other(type: String, data: JSONValue?)

    /// The prompt this event is about, when it says.
    public var promptID: String? {
        switch self {
        case .executionStart(let id), .executionSuccess(let id): id
        case .executionCached(let id, _), .progress(let id, _, _, _), .progressState(let id, _), .executed(let id, _, _): id
        case .executing(let id, _): id
        case .executionError(let failure): failure.promptID
        case .executionInterrupted(let id, _, _): id
        case .preview(_, let id, _, _): id
        case .status, .featureFlags, .text, .other: nil
        }
    }

    public struct NodeProgress: Sendable, Equatable {
        public var value: Double
        public var max: Double
        /// `running` or `finished`.
        public var state: String

        public init(value: Double, max: Double, state: String) {
            self.value = value
            self.max = max
            self.state = state
        }
    }

    /// `execution_error`: what failed, where, and ComfyUI's own words.
    public struct ExecutionFailure: Sendable, Equatable {
        public var promptID: String
        public var nodeID: String?
        public var nodeType: String?
        public var exceptionType: String?
        public var exceptionMessage: String

        /// One sentence: "node 2 (ImageToMask) failed: IndexError: index 3 is out of bounds".
        public var message: String {
            let node = nodeID.map { "node \($0)\(nodeType.map { " (\($0))" } ?? "")" } ?? "a node"
            let kind = exceptionType.map { "\($0): " } ?? ""
            return "\(node) failed: \(kind)\(exceptionMessage.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }
}

extension ComfyEvent {
    /// Reads a text frame `{"type":…,"data":…}`; nil when it is not one.
    public init?(text: some Collection<UInt8>) {
        guard let frame = try? JSONParser.parse(text), let type = frame["type"]?.stringValue else { return nil }
        let data = frame["data"]
        func string(_ key: String) -> String? { data?[key]?.stringValue }
        func integer(_ value: JSONValue?) -> Int? {
            if case .number(let number)? = value { return Int(jsonNumber: number) }
            return nil
        }
        func double(_ value: JSONValue?) -> Double {
            if case .number(let number)? = value { return number }
            return 0
        }
        let promptID = string("prompt_id")
        switch type {
        case "status":
            self = .status(queueRemaining: max(0, integer(data?["status"]?["exec_info"]?["queue_remaining"]) ?? 0), sid: string("sid"))
        case "execution_start" where promptID != nil:
            self = .executionStart(promptID: promptID!)
        case "execution_cached" where promptID != nil:
            let nodes: [String] = if case .array(let items)? = data?["nodes"] { items.compactMap(\.stringValue) } else { [] }
            self = .executionCached(promptID: promptID!, nodes: nodes)
        case "executing":
            self = .executing(promptID: promptID, node: string("node"))
        case "progress" where promptID != nil:
            self = .progress(promptID: promptID!, node: string("node"), value: integer(data?["value"]) ?? 0,
                             max: integer(data?["max"]) ?? 0)
        case "progress_state" where promptID != nil:
            var nodes: [String: NodeProgress] = [:]
            for (id, node) in data?["nodes"]?.objectValue ?? [:] {
                nodes[id] = NodeProgress(value: double(node["value"]), max: double(node["max"]),
                                         state: node["state"]?.stringValue ?? "running")
            }
            self = .progressState(promptID: promptID!, nodes: nodes)
        case "executed" where promptID != nil && string("node") != nil:
            let output = data?["output"]
            self = .executed(promptID: promptID!, node: string("node")!, output: output == .null ? nil : output)
        case "execution_success" where promptID != nil:
            self = .executionSuccess(promptID: promptID!)
        case "execution_error" where promptID != nil:
            self = .executionError(ExecutionFailure(
                promptID: promptID!, nodeID: string("node_id"), nodeType: string("node_type"),
                exceptionType: string("exception_type"), exceptionMessage: string("exception_message") ?? "no message"))
        case "execution_interrupted" where promptID != nil:
            self = .executionInterrupted(promptID: promptID!, node: string("node_id"), nodeType: string("node_type"))
        case "feature_flags":
            self = .featureFlags(data ?? .null)
        default:
            self = .other(type: type, data: data)
        }
    }

    /// Reads a binary frame: a 4-byte big-endian event type, then the payload. nil for a type
    /// this client does not know (ComfyUI's type 2 is internal and never sent).
    public init?(binary bytes: [UInt8]) {
        func word(_ offset: Int) -> Int? {
            guard bytes.count >= offset + 4 else { return nil }
            return bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        switch word(0) {
        case 1?:
            // PREVIEW_IMAGE: format (1 JPEG, 2 PNG), then the image.
            let format = word(4) == 2 ? "image/png" : "image/jpeg"
            self = .preview(format: format, promptID: nil, node: nil, bytes: max(0, bytes.count - 8))
        case 4?:
            // PREVIEW_IMAGE_WITH_METADATA: length, JSON metadata, then the image.
            guard let length = word(4), bytes.count >= 8 + length,
                  let metadata = try? JSONParser.parse(bytes[8..<(8 + length)]) else { return nil }
            self = .preview(format: metadata["image_type"]?.stringValue ?? "image/jpeg",
                            promptID: metadata["prompt_id"]?.stringValue, node: metadata["node_id"]?.stringValue,
                            bytes: bytes.count - 8 - length)
        case 3?:
            // TEXT: node id length, node id, then UTF-8 text.
            guard let length = word(4), bytes.count >= 8 + length else { return nil }
            self = .text(node: String(decoding: bytes[8..<(8 + length)], as: UTF8.self),
                         text: String(decoding: bytes[(8 + length)...], as: UTF8.self))
        default:
            return nil
        }
    }
}
