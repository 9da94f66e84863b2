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
}
