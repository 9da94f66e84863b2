import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// `comfy.free` through the daemon, against the fake ComfyUI on a shared virtual card.
@Suite(.timeLimit(.minutes(3))) struct ComfyFreeTests {
    @Test func freeReportsTheMemoryThatCameBack() async throws {
        let gpu = VirtualGPU(totalBytes: 8 << 30)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await comfyui.start()
        // A checkpoint ComfyUI keeps after a run.
        #expect(await gpu.allocate("comfyui:v1-5-pruned-emaonly.safetensors", bytes: 2 << 30))
        let daemon = try await TestDaemon.start(comfyUIURL: comfyui.baseURL) { $0.freeTimeout = .seconds(5 * testSlowdown) }
        let path = daemon.socketPath
        let freed = try await blocking { try RPCClient(socketPath: path).call(.comfyFree, as: ComfyFreeResult.self) }
        #expect(freed.heldBefore == .gibibytes(2) && freed.heldAfter == ByteSize(bytes: 0) && freed.freed == .gibibytes(2) && freed.confirmed)
        #expect(await gpu.usedBytes == 0)
        // Holding nothing, it answers without waiting for memory that is not coming.
        let run = try await ChildProcess.run("gpuctl", ["--socket", path, "free"])
        #expect(run.status == 0 && run.stdout.hasPrefix("ComfyUI freed 0 B (held 0 B → 0 B) in "), "\(run)")
        // A /free that frees nothing is reported as such, after the wait.
        comfyui.configure { $0.ignoreFree = true }
        #expect(await gpu.allocate("comfyui:v1-5-pruned-emaonly.safetensors", bytes: 1 << 30))
        let kept = try await blocking { try RPCClient(socketPath: path).call(.comfyFree, as: ComfyFreeResult.self) }
        #expect(!kept.confirmed && kept.heldAfter == .gibibytes(1) && kept.freed == ByteSize(bytes: 0))
        comfyui.configure { $0.ignoreFree = false }
        await comfyui.stop()
        let kind = try await blocking { () -> String? in
            do {
                _ = try RPCClient(socketPath: path).callRaw("comfy.free")
                return nil
            } catch RPCClientError.remote(let payload) {
                return payload.data?.kind
            }
        }
        #expect(kind == "backend_unavailable")
        try await daemon.stop()
    }
}
