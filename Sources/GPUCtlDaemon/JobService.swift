import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore

/// The job methods behind the router: `comfy.submit` checks everything it can before a job is
/// queued (workflow, parameter names and types, required values, image files), then the
/// Supervisor owns the job; `jobs.*` read, cancel and follow it.
struct JobService: Sendable {
    let supervisor: Supervisor
    let comfyui: ComfyUIClient

    func submit(_ params: SubmitParams) async throws -> JobInfo {
        try await submit(params, id: UUID().uuidString.lowercased())
    }

    /// Queues a job under an id the caller chose (a pipeline step writes it down first, so a
    /// restart finds the job rather than queueing another).
    func submit(_ params: SubmitParams, id: String) async throws -> JobInfo {
        let timeout = params.timeout ?? Double(supervisor.configuration.jobTimeout.components.seconds)
        let spec = switch params.work {
        case .workflow(let name, let values):
            try await fromWorkflow(name, values: values, timeout: timeout, vram: params.vram)
        case .graph(let graph):
            try Self.fromGraph(graph, catalog: supervisor.catalog, timeout: timeout, vram: params.vram)
        }
        return try await supervisor.enqueue(spec.record(id: id, jobClass: params.requestClass))
    }

    /// A submission whose values are wrong for what they name.
    static func fail(_ detail: String) -> JobError {
        .badSubmission("invalid params for \(RPCMethod.comfySubmit.rawValue): \(detail)")
    }

    private func fromWorkflow(_ name: String, values given: [String: JSONValue], timeout: Double, vram: UInt64?) async throws -> JobSpec {
        let workflows = supervisor.workflows
        guard let template = workflows.templates[name] else {
            let hint = Suggestion.closest(to: name, in: Array(workflows.templates.keys)).map { "; did you mean '\($0)'?" }
                ?? "; list them with 'gpuctl workflows'"
            let broken = workflows.broken.first { $0.workflow == name }.map { " (it was skipped at start: \($0.problems.joined(separator: "; ")))" } ?? ""
            throw JobError.badSubmission("no workflow named '\(name)'\(broken)\(hint)")
        }
        var values = given
        // An image sent as bytes is uploaded to ComfyUI's input folder first. gpuctld never
        // reads a file a client names: it can read what its callers may not (its store, its
        // environment file), and a FIFO would block it.
        for (key, value) in values where template.parameters[key]?.type == .image {
            switch value {
            case .object(let file):
                let (data, name) = try Self.imageBytes(file, parameter: key)
                values[key] = .string(try await comfyui.uploadImage(data, filename: name).name)
            case .string(let text) where text.contains("/"):
                throw Self.fail("parameter '\(key)' is a path (\(text)); gpuctld does not read files for its clients: send the image's bytes as {\"name\", \"data\": base64} (gpuctl run --set \(key)=FILE does), or give the name of a file in ComfyUI's input folder")
            default:
                continue
            }
        }
        let graph: JSONValue
        do {
            graph = try template.graph(with: values)
        } catch {
            throw JobError.badSubmission(error.description)
        }
        // The template's estimate plus room for sampling until the workflow was seen running;
        // then what it was seen to take, when more than the estimate (JobCharge).
        let estimate = workflows.vram(of: template, models: supervisor.catalog)?.bytes ?? 0
        let learned = (try? supervisor.store.footprint(subject: Supervisor.footprintSubject(workflow: name)))?.peakBytes
        let bytes = vram ?? JobCharge.bytes(estimate: estimate, learned: learned.map { UInt64(clamping: $0) },
                                            headroom: supervisor.configuration.jobHeadroom.bytes)
        return JobSpec(workflow: name, parameters: .object(values), graph: graph, vramBytes: bytes, timeoutSeconds: timeout)
    }

    /// An image parameter's `{"name": "cat.png", "data": base64}`: the bytes (at most
    /// `SubmitParams.largestImage`) and a plain file name to upload them under.
    static func imageBytes(_ file: [String: JSONValue], parameter key: String) throws -> (Data, String) {
        guard let encoded = file["data"]?.stringValue else {
            throw fail("parameter '\(key)' as an object needs 'data', the image's bytes in base64 (and 'name')")
        }
        let limit = SubmitParams.largestImage
        guard encoded.utf8.count <= (limit / 3 + 1) * 4, let data = Data(base64Encoded: encoded), data.count <= limit else {
            throw fail("parameter '\(key)' is not base64 of an image up to \(limit >> 20) MiB; put a larger one in ComfyUI's input folder and give its name")
        }
        let given = (file["name"]?.stringValue ?? "").split(separator: "/").last.map(String.init) ?? ""
        return (data, OutputNames.isPlain(given) ? given : "upload.png")
    }

    /// A raw API-format graph: every node an object with a `class_type` and `inputs` (ComfyUI
    /// checks the rest when it is submitted). Its VRAM: the catalog sizes of the model files
    /// it names, unless `vram` is given.
    static func fromGraph(_ graph: JSONValue, catalog: Catalog, timeout: Double, vram: UInt64?) throws -> JobSpec {
        guard let nodes = graph.objectValue, !nodes.isEmpty else {
            throw Self.fail("'graph' must be a ComfyUI API-format graph: an object of nodes like {\"1\": {\"class_type\": …, \"inputs\": {…}}}")
        }
        var modelBytes: UInt64 = 0
        for (id, node) in nodes.sorted(by: { $0.key < $1.key }) {
            guard node["class_type"]?.stringValue != nil, node["inputs"]?.objectValue != nil else {
                throw Self.fail("node '\(id)' of 'graph' needs a 'class_type' string and an 'inputs' object")
            }
            for (_, input) in node["inputs"]?.objectValue ?? [:] {
                if let file = input.stringValue, let spec = catalog.model(named: file), spec.backend == .comfyui {
                    modelBytes = modelBytes.addingSaturating(spec.vram.bytes)
                }
            }
        }
        return JobSpec(workflow: nil, parameters: nil, graph: graph, vramBytes: vram ?? modelBytes, timeoutSeconds: timeout)
    }

    func list(_ params: JobsListParams) async throws -> JobsListResult {
        try await supervisor.listJobs(limit: params.limit, states: params.states)
    }

    func get(_ params: JobIDParams) async throws -> JobInfo {
        try await supervisor.job(params.id, history: true)
    }

    /// Cancels and waits (bounded) for the job to end, so the answer says how it ended.
    func cancel(_ params: JobIDParams) async throws -> JobInfo {
        let id = params.id
        let (_, stream) = try await supervisor.watch(id)
        if try await supervisor.cancelWaiting(job: id) { return try await supervisor.job(id) }
        if let stream {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in JobChanges(stream) {} }
                group.addTask { try? await Task.sleep(for: .seconds(30)) }
                await group.next()
                group.cancelAll()
            }
        }
        return try await supervisor.job(id)
    }

    /// Streams `{"job","state"|"progress"}` notifications until the job ends, then returns it.
    func wait(_ params: JobIDParams, id callID: JSONValue?, streamTo context: RPCCallContext) async throws -> JobInfo {
        let id = params.id
        let (current, changes) = try await supervisor.watch(id)
        guard let changes else { return current }
        let stream = context.stream(for: callID ?? .null)
        stream.send((try? JSONEncoder.rpc.encode(JobNotification(job: id, state: current.state))) ?? Data())
        for await notification in JobChanges(changes) {
            try Task.checkCancellation()
            stream.send((try? JSONEncoder.rpc.encode(notification)) ?? Data())
        }
        try Task.checkCancellation()
        return try await supervisor.job(id)
    }
}

/// A job's events as `jobs.wait` sends them (`{"job","state"|"progress"}`), ending with the
/// first final state (or when the daemon stops).
struct JobChanges: AsyncSequence, Sendable {
    let events: AsyncStream<DaemonEvent>

    init(_ events: AsyncStream<DaemonEvent>) {
        self.events = events
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var events: AsyncStream<DaemonEvent>.AsyncIterator
        var ended = false

        mutating func next() async -> JobNotification? {
            while !ended, let event = await events.next() {
                guard let job = event.job else { continue }
                switch event.type {
                case .jobState:
                    ended = event.state.flatMap(JobState.init(rawValue:))?.isFinal ?? false
                    return JobNotification(job: job, state: event.state, error: event.error)
                case .jobProgress:
                    return JobNotification(job: job, progress: event.progress, step: event.step)
                default:
                    continue
                }
            }
            return nil
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: events.makeAsyncIterator()) }
}
