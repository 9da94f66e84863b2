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

    static let submitFields = ["workflow", "params", "graph", "class", "timeout", "vram"]

    func submit(_ params: RPCParams) async throws -> JobInfo {
        let workflowName = try params.string("workflow")
        let graphValue = params.values["graph"].flatMap { $0 == .null ? nil : $0 }
        let configuration = supervisor.configuration
        var timeout = Double(configuration.jobTimeout.components.seconds)
        if let value = params.values["timeout"], value != .null {
            guard case .number(let seconds) = value, seconds > 0 else { throw params.fail("'timeout' must be a number of seconds above 0") }
            timeout = seconds
        }
        var vram: UInt64?
        switch params.values["vram"] {
        case nil, .null?: break
        case .number(let bytes)? where bytes >= 0: vram = UInt64(bytes)
        case .string(let text)?:
            guard let size = ByteSize(parsing: text) else { throw params.fail("'vram' must be a size like 6GiB, not '\(text)'") }
            vram = size.bytes
        case let other?: throw params.fail("'vram' must be a size like 6GiB or a number of bytes, not \(other.typeName)")
        }
        let spec: JobSpec
        switch (workflowName, graphValue) {
        case (let name?, nil):
            spec = try await fromWorkflow(name, params: params, timeout: timeout, vram: vram)
        case (nil, let graph?):
            guard params.values["params"] == nil else { throw params.fail("'params' goes with 'workflow'; a raw 'graph' has its values in it") }
            spec = try Self.fromGraph(graph, params: params, catalog: supervisor.catalog, timeout: timeout, vram: vram)
        case (_?, _?):
            throw params.fail("send either 'workflow' (with 'params') or 'graph', not both")
        case (nil, nil):
            throw params.fail("'workflow' (a name from 'gpuctl workflows') or 'graph' (a ComfyUI API-format graph) is required")
        }
        let id = UUID().uuidString.lowercased()
        let record = spec.record(id: id, jobClass: try params.requestClass())
        return try await supervisor.enqueue(record)
    }

    private func fromWorkflow(_ name: String, params: RPCParams, timeout: Double, vram: UInt64?) async throws -> JobSpec {
        let workflows = supervisor.workflows
        guard let template = workflows.templates[name] else {
            let hint = Suggestion.closest(to: name, in: Array(workflows.templates.keys)).map { "; did you mean '\($0)'?" }
                ?? "; list them with 'gpuctl workflows'"
            let broken = workflows.broken.first { $0.workflow == name }.map { " (it was skipped at start: \($0.problems.joined(separator: "; ")))" } ?? ""
            throw RPCErrorPayload(.invalidParams, "no workflow named '\(name)'\(broken)\(hint)")
        }
        var values: [String: JSONValue] = [:]
        switch params.values["params"] {
        case nil, .null?: break
        case .object(let object)?: values = object
        case let other?: throw params.fail("'params' must be an object of parameter values, not \(other.typeName)")
        }
        // Image parameters naming a file on this machine: uploaded to ComfyUI's input folder first.
        for (key, value) in values {
            guard template.parameters[key]?.type == .image, let path = value.stringValue, path.contains("/") else { continue }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw params.fail("parameter '\(key)' names \(path), which cannot be read; give an image file or the name of one in ComfyUI's input folder")
            }
            do {
                values[key] = .string(try await comfyui.uploadImage(data, filename: (path as NSString).lastPathComponent).name)
            } catch {
                throw RPCErrorPayload(comfy: error)
            }
        }
        let graph: JSONValue
        do {
            graph = try template.graph(with: values)
        } catch {
            throw RPCErrorPayload(.invalidParams, error.description)
        }
        let bytes = vram ?? workflows.vram(of: template, models: supervisor.catalog)?.bytes ?? 0
        return JobSpec(workflow: name, parameters: .object(values), graph: graph, vramBytes: bytes, timeoutSeconds: timeout)
    }

    /// A raw API-format graph: every node an object with a `class_type` and `inputs` (ComfyUI
    /// checks the rest when it is submitted). Its VRAM: the catalog sizes of the model files
    /// it names, unless `vram` is given.
    static func fromGraph(_ graph: JSONValue, params: RPCParams, catalog: Catalog, timeout: Double, vram: UInt64?) throws -> JobSpec {
        guard let nodes = graph.objectValue, !nodes.isEmpty else {
            throw params.fail("'graph' must be a ComfyUI API-format graph: an object of nodes like {\"1\": {\"class_type\": …, \"inputs\": {…}}}")
        }
        var modelBytes: UInt64 = 0
        for (id, node) in nodes.sorted(by: { $0.key < $1.key }) {
            guard node["class_type"]?.stringValue != nil, node["inputs"]?.objectValue != nil else {
                throw params.fail("node '\(id)' of 'graph' needs a 'class_type' string and an 'inputs' object")
            }
            for (_, input) in node["inputs"]?.objectValue ?? [:] {
                if let file = input.stringValue, let spec = catalog.model(named: file), spec.backend == .comfyui {
                    modelBytes += spec.vram.bytes
                }
            }
        }
        return JobSpec(workflow: nil, parameters: nil, graph: graph, vramBytes: vram ?? modelBytes, timeoutSeconds: timeout)
    }

    func list(_ params: RPCParams) async throws -> JobsListResult {
        let limit = try params.integer("limit") ?? 100
        guard limit > 0 else { throw params.fail("'limit' must be above 0") }
        var states: [JobState]?
        if let names = try params.strings("state") {
            states = try names.map { name throws(RPCErrorPayload) -> JobState in
                guard let state = JobState(rawValue: name) else {
                    throw params.fail("'state' must name job states (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))), not '\(name)'")
                }
                return state
            }
        }
        return try await supervisor.listJobs(limit: limit, states: states)
    }

    func get(_ params: RPCParams) async throws -> JobInfo {
        try await supervisor.job(try params.requiredString("id"), history: true)
    }

    /// Cancels and waits (bounded) for the job to end, so the answer says how it ended.
    func cancel(_ params: RPCParams) async throws -> JobInfo {
        let id = try params.requiredString("id")
        let (_, stream) = try await supervisor.watch(id)
        if try await supervisor.cancelWaiting(job: id) { return try await supervisor.job(id) }
        if let stream {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { for await _ in stream {} }
                group.addTask { try? await Task.sleep(for: .seconds(30)) }
                await group.next()
                group.cancelAll()
            }
        }
        return try await supervisor.job(id)
    }

    /// Streams `{"job","state"|"progress"}` notifications until the job ends, then returns it.
    func wait(_ params: RPCParams, id callID: JSONValue?, streamTo context: RPCCallContext) async throws -> JobInfo {
        let id = try params.requiredString("id")
        let (current, stream) = try await supervisor.watch(id)
        guard let stream else { return current }
        context.stream(callID ?? .null, data: (try? JSONEncoder.rpc.encode(JobNotification(job: id, state: current.state))) ?? Data())
        for await notification in stream {
            try Task.checkCancellation()
            context.stream(callID ?? .null, data: (try? JSONEncoder.rpc.encode(notification)) ?? Data())
        }
        try Task.checkCancellation()
        return try await supervisor.job(id)
    }
}
