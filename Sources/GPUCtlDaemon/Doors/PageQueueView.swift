import Foundation
import GPUCtlModels

/// What the page behind the ComfyUI door is shown of the queue: ComfyUI's own, with the jobs
/// that wait in gpuctld for room on the card added as pending entries, in ComfyUI's shapes
/// (`[number, prompt_id, graph, extra_data, outputs]`, `status.exec_info.queue_remaining`).
/// Pure: the door fetches, this arranges.
enum PageQueueView {
    /// A gpuctld job not yet given to ComfyUI.
    struct Waiting: Sendable, Equatable {
        var id: String
        var graph: JSONValue
        var clientID: String?
        var extraData: JSONValue?
    }

    /// `GET /queue`: ComfyUI's answer (nil when it could not be asked) with `waiting` after its
    /// pending entries, numbered after ComfyUI's, in the order gpuctld will run them.
    static func merged(_ queue: JSONValue?, waiting: [Waiting]) -> JSONValue {
        var members = queue?.objectValue ?? [:]
        let running = members["queue_running"]?.arrayValue ?? []
        var pending = members["queue_pending"]?.arrayValue ?? []
        let entries = running + pending
        let listed = Set(entries.compactMap { entry -> String? in
            guard let fields = entry.arrayValue, fields.count > 1 else { return nil }
            return fields[1].stringValue
        })
        var number = (entries.compactMap { $0.arrayValue?.first?.numberValue }.max() ?? -1).rounded(.down) + 1
        for job in waiting where !listed.contains(job.id) {
            var extra = job.extraData?.objectValue ?? [:]
            if let clientID = job.clientID { extra["client_id"] = .string(clientID) }
            pending.append(.array([.number(number), .string(job.id), job.graph, .object(extra),
                                   .array(ComfyPrompt.outputNodes(of: job.graph).map(JSONValue.string))]))
            number += 1
        }
        members["queue_running"] = .array(running)
        members["queue_pending"] = .array(pending)
        return .object(members)
    }

    /// `GET /prompt`: ComfyUI's `exec_info` with the waiting jobs counted in.
    static func promptInfo(_ reply: JSONValue?, waiting: Int) -> JSONValue {
        let remaining = Int(reply?["exec_info"]?["queue_remaining"]?.numberValue ?? 0)
        var members = reply?.objectValue ?? [:]
        var info = members["exec_info"]?.objectValue ?? [:]
        info["queue_remaining"] = .number(Double(remaining + waiting))
        members["exec_info"] = .object(info)
        return .object(members)
    }

    /// A `status` message as ComfyUI writes one, with `remaining` in the queue; `sid` only in
    /// the first message of a connection.
    static func statusMessage(remaining: Int, sid: String? = nil) -> String {
        var data: [String: JSONValue] = ["status": ["exec_info": ["queue_remaining": .number(Double(remaining))]]]
        if let sid { data["sid"] = .string(sid) }
        return JSONValue.object(["type": "status", "data": .object(data)]).jsonText
    }

    /// The `execution_error` a page is sent for its prompt when gpuctld could not run it (the
    /// graph was refused at submission, or it can never fit): what the page shows for a
    /// prompt that failed, since the prompt was accepted before it reached ComfyUI.
    static func executionError(promptID: String, message: String, at date: Date = Date()) -> String {
        JSONValue.object(["type": "execution_error", "data": [
            "prompt_id": .string(promptID), "node_id": .null, "node_type": .null, "executed": [],
            "exception_message": .string(message), "exception_type": "gpuctl.JobFailed", "traceback": [],
            "current_inputs": [:], "current_outputs": [], "timestamp": .number((date.timeIntervalSince1970 * 1000).rounded()),
        ]]).jsonText
    }
}
