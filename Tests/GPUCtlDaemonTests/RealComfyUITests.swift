import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Against a real ComfyUI when GPUCTL_IT_COMFYUI names one (e.g. http://127.0.0.1:8188; a
/// CPU-only ComfyUI will do): the model-free workflow end to end, cancel, and a rejected graph.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["GPUCTL_IT_COMFYUI"] != nil))
struct RealComfyUITests {
    static let url = ProcessInfo.processInfo.environment["GPUCTL_IT_COMFYUI"] ?? ""

    static func call<T: Decodable & Sendable>(_ path: String, _ method: RPCMethod, _ params: JSONValue, as: T.Type) async throws -> T {
        try await blocking {
            try JSONDecoder().decode(T.self, from: RPCClient(socketPath: path, timeout: .seconds(300)).callRaw(method.rawValue, params: params))
        }
    }

    @Test func theModelFreeWorkflowRunsAndItsImageIsSaved() async throws {
        let daemon = try await TestDaemon.start(comfyUIURL: Self.url) { $0.workflowsDirectory = BackendTestBed.workflowsDirectory }
        let path = daemon.socketPath
        #expect(await eventually(within: .seconds(30)) {
            try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self).backends.comfyui.state == .up }
        })
        // A prefix of its own, so ComfyUI runs it rather than serving it from cache.
        let prefix = "gpuctl_it_\(UUID().uuidString.prefix(8))"
        let submitted = try await Self.call(path, .comfySubmit, ["workflow": "invert", "params": ["width": 64, "height": 64, "prefix": .string(prefix)]],
                                            as: JobInfo.self)
        let job = try await Self.call(path, .jobsWait, ["id": .string(submitted.id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let output = try #require(job.outputs?.first)
        let bytes = try #require(FileManager.default.contents(atPath: output.path))
        #expect(bytes.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]) && output.filename.hasPrefix(prefix))
        // A graph ComfyUI refuses fails the job with its node errors.
        let bad = try await Self.call(path, .comfySubmit, ["graph": ["1": ["class_type": "ImageInvert", "inputs": [:]]]], as: JobInfo.self)
        let failed = try await Self.call(path, .jobsWait, ["id": .string(bad.id)], as: JobInfo.self)
        #expect(failed.state == "failed" && failed.error?.hasPrefix("ComfyUI refused the graph: ") == true, "\(failed)")
        try await daemon.stop()
    }

    /// ComfyUI's own page through the door: served whole, its /ws relayed under the page's id,
    /// its prompt run as a gpuctld job and reported to the page, a refused graph reported too.
    @Test func thePageThroughTheComfyUIDoorRunsItsPromptAsAJob() async throws {
        let daemon = try await TestDaemon.start(comfyUIURL: Self.url) { configuration in
            configuration.workflowsDirectory = BackendTestBed.workflowsDirectory
            configuration.comfyUIListen = ListenAddress(host: "127.0.0.1", port: 0)
        }
        let path = daemon.socketPath
        #expect(await eventually(within: .seconds(30)) {
            try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self).backends.comfyui.state == .up }
        })
        let url = try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self).daemon.comfyUIDoorURL }
        let port = Int(url?.split(separator: ":").last ?? "") ?? 0
        let page = try await ComfyDoorBed.page(port: port, "GET", "/")
        #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true && page.text.contains("<html"),
                "\(page.status) \(page.headers)")
        let clientID = "gpuctl-it-\(UUID().uuidString.prefix(8).lowercased())"
        let socket = PageSocket.open(port: port, clientID: clientID)
        #expect(await socket.first("status")?["sid"]?.stringValue == clientID, "\(socket.messages.value)")

        let prefix = "gpuctl_door_\(UUID().uuidString.prefix(8))"
        let graph: JSONValue = ["1": ["class_type": "EmptyImage", "inputs": ["width": 64, "height": 64, "batch_size": 1, "color": 255]],
                                "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": .string(prefix)]]]
        let body = JSONValue.object(["prompt": graph, "client_id": .string(clientID),
                                     "extra_data": ["extra_pnginfo": ["workflow": ["nodes": []]]]]).jsonText
        let reply = try await ComfyDoorBed.page(port: port, "POST", "/prompt", json: body)
        let id = try #require(reply.json["prompt_id"]?.stringValue, "\(reply.status) \(reply.text)")
        #expect(await socket.first("execution_success", within: .seconds(120)) { $0["prompt_id"]?.stringValue == id } != nil,
                "\(socket.messages.value)")
        let job = try await Self.call(path, .jobsWait, ["id": .string(id)], as: JobInfo.self)
        #expect(job.state == "succeeded", "\(job)")
        let image = try #require(job.outputs?.first)
        let view = try await ComfyDoorBed.page(port: port, "GET", "/view?filename=\(image.filename)&subfolder=&type=output")
        #expect(view.status == 200 && view.body.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let queue = try await ComfyDoorBed.page(port: port, "GET", "/api/queue").json
        #expect(queue["queue_running"] != nil && queue["queue_pending"] != nil, "\(queue)")

        let refused = try await ComfyDoorBed.page(port: port, "POST", "/prompt", json: JSONValue.object(
            ["prompt": ["1": ["class_type": "ImageInvert", "inputs": [:]]], "client_id": .string(clientID)]).jsonText)
        let refusedID = try #require(refused.json["prompt_id"]?.stringValue)
        #expect(await socket.first("execution_error", within: .seconds(60)) { $0["prompt_id"]?.stringValue == refusedID } != nil)
        await socket.close()
        try await daemon.stop()
    }
}
