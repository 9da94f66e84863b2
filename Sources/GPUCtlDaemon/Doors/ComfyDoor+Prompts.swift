import BackendHTTP
import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUCtlStore
import NIOCore
import NIOHTTP1

extension ComfyDoor {
    /// `POST /prompt`: the graph is queued as a gpuctld job (class interactive, the page's
    /// client_id and extra_data kept) and answered at once in ComfyUI's shape; ComfyUI gets it,
    /// under the same prompt_id, when the Scheduler lets it run.
    func submit(_ request: DoorRequest, _ response: DoorResponse) async {
        let prompt: ComfyPrompt
        switch ComfyPrompt.parse(request.body.readableBytesView) {
        case .success(let parsed): prompt = parsed
        case .failure(let refusal): return await sendJSON(refusal.body, status: .badRequest, to: response)
        }
        var spec: JobSpec
        do {
            spec = try JobService.fromGraph(prompt.graph, catalog: supervisor.catalog,
                                            timeout: Double(supervisor.configuration.jobTimeout.components.seconds), vram: nil)
        } catch {
            let refusal = ComfyPrompt.Refusal(type: "invalid_prompt", message: RPCErrorPayload(error).message, details: "")
            return await sendJSON(refusal.body, status: .badRequest, to: response)
        }
        spec.clientID = prompt.clientID
        spec.extraData = prompt.extraData
        spec.source = .comfyUIDoor
        let id = prompt.promptID ?? UUID().uuidString.lowercased()
        if prompt.promptID != nil, supervisor.storedJob(id) != nil {
            let refusal = ComfyPrompt.Refusal(type: "invalid_prompt_id", message: "Duplicate prompt_id",
                                              details: "a job with prompt_id \(id) exists already; leave prompt_id out and gpuctld picks one")
            return await sendJSON(refusal.body, status: .badRequest, to: response)
        }
        let ahead = supervisor.waitingJobs().count
        do {
            _ = try await supervisor.enqueue(spec.record(id: id, jobClass: .interactive))
        } catch {
            let refusal = ComfyPrompt.Refusal(type: "server_error", message: RPCErrorPayload(error).message, details: "")
            return await sendJSON(refusal.body, status: .internalServerError, to: response)
        }
        await sendJSON(["prompt_id": .string(id), "number": .number(Double(ahead)), "node_errors": [:]], to: response)
    }

    /// `GET /prompt`: ComfyUI's count plus gpuctld's waiting jobs.
    func promptInfo(_ request: DoorRequest, _ response: DoorResponse) async {
        let reply = await ask("/prompt")
        await sendJSON(PageQueueView.promptInfo(reply, waiting: supervisor.waitingJobs().count), to: response)
    }

    /// `GET /queue`: ComfyUI's queue, then gpuctld's waiting jobs as pending entries (only
    /// those when ComfyUI cannot be asked).
    func queue(_ request: DoorRequest, _ response: DoorResponse) async {
        let reply = await ask("/queue")
        let waiting = supervisor.waitingJobs().map { record in
            let spec = JobSpec(record)
            return PageQueueView.Waiting(id: record.promptID ?? record.id, graph: spec.graph, clientID: spec.clientID,
                                          extraData: spec.extraData)
        }
        await sendJSON(PageQueueView.merged(reply, waiting: waiting), to: response)
    }

    /// `POST /queue`: `delete` cancels the door's jobs it names and passes the other ids on;
    /// `clear` cancels every job of the door's that waits, and passes on to clear ComfyUI's.
    /// A body gpuctld cannot read goes to ComfyUI, which answers it as it does.
    func editQueue(_ request: DoorRequest, _ response: DoorResponse) async {
        guard let body = try? JSONParser.parse(request.body.readableBytesView).objectValue else {
            return await passOn(request, to: response)
        }
        var rest = body
        if let ids = body["delete"]?.arrayValue {
            var others: [JSONValue] = []
            for id in ids {
                guard let text = id.stringValue, await cancelDoorJob(text) else {
                    others.append(id)
                    continue
                }
            }
            rest["delete"] = others.isEmpty ? nil : .array(others)
        }
        if body["clear"] == .bool(true) {
            for record in supervisor.waitingJobs() where JobSpec(record).source == .comfyUIDoor {
                _ = await cancelDoorJob(record.id)
            }
        }
        guard !rest.isEmpty else { return await sendEmpty(to: response) }
        var relayed = request
        relayed.body = ByteBuffer(bytes: JSONWriter.data(.object(rest)))
        await passOn(relayed, to: response)
    }

    /// `POST /interrupt`: a job of the door's named by `prompt_id`, or the one ComfyUI runs for
    /// gpuctld when none is named, is cancelled (gpuctld interrupts it in ComfyUI); anything
    /// else passes on.
    func interrupt(_ request: DoorRequest, _ response: DoorResponse) async {
        let named = (try? JSONParser.parse(request.body.readableBytesView))?["prompt_id"]?.stringValue
        if let named {
            if await cancelDoorJob(named) { return await sendEmpty(to: response) }
        } else if let held = await supervisor.jobWithRunner, let record = supervisor.storedJob(held),
                  record.state == .running, await cancelDoorJob(held) {
            return await sendEmpty(to: response)
        }
        await passOn(request, to: response)
    }

    /// Cancels a job that came through this door and has not ended; false for any other id.
    /// The job's end is not waited for: the page hears of it over `/ws`.
    func cancelDoorJob(_ id: String) async -> Bool {
        guard let record = supervisor.storedJob(id), !record.state.isFinal, JobSpec(record).source == .comfyUIDoor else {
            return false
        }
        _ = try? await supervisor.cancelWaiting(job: id)
        return true
    }
}
