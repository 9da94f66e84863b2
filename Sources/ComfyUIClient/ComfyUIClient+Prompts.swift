import BackendHTTP
import Foundation
import GPUCtlModels
import NIOHTTP1

/// `POST /prompt` accepted: the id (ours), ComfyUI's queue number, and errors of outputs it dropped.
public struct SubmitResult: Sendable, Equatable {
    public var promptID: String
    public var number: Int
    /// Non-empty when some output nodes failed validation and the rest were queued.
    public var nodeErrors: JSONValue
}

/// One item of `GET /queue`: `[number, prompt_id, graph, extra_data, outputs]`.
public struct QueueItem: Sendable, Equatable {
    public var number: Double
    public var promptID: String
    public var clientID: String?
}

/// `GET /queue`, pending items in run order.
public struct QueueState: Sendable, Equatable {
    public var running: [QueueItem]
    public var pending: [QueueItem]

    /// From `/queue`'s answer; rows that are not `[number, id, …]` are left out.
    public init(reply: JSONValue) {
        func items(_ key: String) -> [QueueItem] {
            guard case .array(let rows)? = reply[key] else { return [] }
            return rows.compactMap { row -> QueueItem? in
                guard case .array(let fields) = row, fields.count >= 2, let id = fields[1].stringValue else { return nil }
                let number: Double = if case .number(let value) = fields[0], value.isFinite { value } else { 0 }
                return QueueItem(number: number, promptID: id, clientID: fields.count > 3 ? fields[3]["client_id"]?.stringValue : nil)
            }
        }
        // queue_pending is ComfyUI's heap array: sorted by number, then id, it is the run order.
        pending = items("queue_pending").sorted { ($0.number, $0.promptID) < ($1.number, $1.promptID) }
        running = items("queue_running")
    }

    public init(running: [QueueItem], pending: [QueueItem]) {
        self.running = running
        self.pending = pending
    }
}

/// A finished prompt from `GET /history/{id}`.
public struct HistoryEntry: Sendable, Equatable {
    /// Per output node, what it returned (`images`, `gifs`, `audio`, `text`, ...).
    public var outputs: [String: JSONValue]
    /// `success` or `error`.
    public var statusString: String
    public var completed: Bool
    /// `[[event, data], ...]`: execution_start, execution_cached, and how it ended.
    public var messages: [JSONValue]

    /// `promptID`'s entry in `/history/{id}`'s answer; nil when there is none.
    public init?(reply: JSONValue, promptID: String) {
        guard let entry = reply[promptID] else { return nil }
        let status = entry["status"]
        let messages: [JSONValue] = if case .array(let items)? = status?["messages"] { items } else { [] }
        self.init(outputs: entry["outputs"]?.objectValue ?? [:], statusString: status?["status_str"]?.stringValue ?? "unknown",
                  completed: status?["completed"] == .bool(true), messages: messages)
    }

    public init(outputs: [String: JSONValue], statusString: String, completed: Bool, messages: [JSONValue]) {
        self.outputs = outputs
        self.statusString = statusString
        self.completed = completed
        self.messages = messages
    }
}

extension ComfyUIClient {
    /// Queues `graph` (API format) under our own `promptID`, for the WebSocket `clientID`, with
    /// `extraData` stored beside it (ComfyUI adds the client id to it).
    /// A graph ComfyUI rejects throws an `http` 400 error whose message names node, class and input.
    public func submit(graph: JSONValue, clientID: String, promptID: String,
                       extraData: JSONValue? = nil) async throws(ComfyUIError) -> SubmitResult {
        var body: [String: JSONValue] = ["prompt": graph, "client_id": .string(clientID), "prompt_id": .string(promptID)]
        if let extraData, extraData.objectValue != nil { body["extra_data"] = extraData }
        let reply = try await postJSON("/prompt", body: .object(body))
        guard let id = reply?["prompt_id"]?.stringValue else {
            throw ComfyUIError(kind: .decoding, status: nil, message: "ComfyUI accepted a prompt but sent no prompt_id")
        }
        let number: Int = if case .number(let value)? = reply?["number"] { Int(jsonNumber: value.rounded()) ?? 0 } else { 0 }
        return SubmitResult(promptID: id, number: number, nodeErrors: reply?["node_errors"] ?? [:])
    }

    /// `GET /queue`.
    public func queue() async throws(ComfyUIError) -> QueueState {
        QueueState(reply: try await getJSON("/queue"))
    }

    /// Removes pending prompts (never the running one: see `interrupt`).
    public func deleteFromQueue(_ promptIDs: [String]) async throws(ComfyUIError) {
        _ = try await postJSON("/queue", body: ["delete": .array(promptIDs.map(JSONValue.string))])
    }

    /// Interrupts `promptID` if it is the one running (a no-op otherwise), or whatever runs when nil.
    public func interrupt(_ promptID: String?) async throws(ComfyUIError) {
        _ = try await postJSON("/interrupt", body: promptID.map { ["prompt_id": .string($0)] } ?? [:])
    }

    /// `GET /history/{id}`: nil while the prompt is pending or running, and for an unknown id.
    public func history(_ promptID: String) async throws(ComfyUIError) -> HistoryEntry? {
        HistoryEntry(reply: try await getJSON("/history/\(promptID)"), promptID: promptID)
    }

    /// `POST /free`: ComfyUI answers at once and frees later (after a running prompt); watch
    /// `systemStats()` for the memory to come back.
    public func free(unloadModels: Bool = true, freeMemory: Bool = true) async throws(ComfyUIError) {
        _ = try await postJSON("/free", body: ["unload_models": .bool(unloadModels), "free_memory": .bool(freeMemory)])
    }

    /// `GET /object_info` (every node class) or `/object_info/{class}` (`{}` when unknown).
    public func objectInfo(_ className: String? = nil) async throws(ComfyUIError) -> JSONValue {
        try await getJSON(className.map { "/object_info/\(Self.escape($0))" } ?? "/object_info")
    }

    /// `GET /view`: one output file's bytes.
    public func view(filename: String, subfolder: String, type: String, maximumSize: Int = 1 << 30) async throws(ComfyUIError) -> Data {
        let query = "filename=\(Self.escape(filename))&subfolder=\(Self.escape(subfolder))&type=\(Self.escape(type))"
        var download = http
        download.maximumBodySize = maximumSize
        do {
            return try await download.send(method: .GET, path: "/view?\(query)", body: nil, timeout: transferTimeout)
        } catch {
            throw ComfyUIError(error, comfyEndpoint: "\(baseURL)/view")
        }
    }

    /// `GET /view`, streamed to `target` as it arrives (any status: the target decides), so a
    /// large output never sits in memory whole.
    public func download(filename: String, subfolder: String, type: String, to target: some RelayTarget) async throws(ComfyUIError) {
        let query = "filename=\(Self.escape(filename))&subfolder=\(Self.escape(subfolder))&type=\(Self.escape(type))"
        let timeouts = StreamTimeouts(firstByte: transferTimeout, idle: transferTimeout, total: transferTimeout * 12)
        do {
            try await http.relay(RelayedRequest(method: .GET, uri: "/view?\(query)"), timeouts: timeouts, to: target)
        } catch let failure as HTTPCallFailure {
            throw ComfyUIError(failure, comfyEndpoint: "\(baseURL)/view")
        } catch {
            throw ComfyUIError(kind: .interrupted, status: nil, message: "the download of \(filename) from ComfyUI stopped: \(error)")
        }
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    func getJSON(_ path: String) async throws(ComfyUIError) -> JSONValue {
        do throws(HTTPCallFailure) {
            let data = try await http.send(method: .GET, path: path, body: nil, timeout: quickTimeout)
            do { return try JSONParser.parse(data) } catch { throw HTTPCallFailure.undecodable("\(error)") }
        } catch {
            throw ComfyUIError(error, comfyEndpoint: "\(baseURL)\(path.split(separator: "?").first ?? "")")
        }
    }

    /// POSTs JSON; several endpoints answer 200 with an empty body (nil then).
    func postJSON(_ path: String, body: JSONValue) async throws(ComfyUIError) -> JSONValue? {
        do throws(HTTPCallFailure) {
            let data = try await http.post(path, json: JSONWriter.data(body), timeout: quickTimeout)
            guard !data.isEmpty else { return nil }
            do { return try JSONParser.parse(data) } catch { throw HTTPCallFailure.undecodable("\(error)") }
        } catch {
            throw ComfyUIError(error, comfyEndpoint: "\(baseURL)\(path)")
        }
    }
}
