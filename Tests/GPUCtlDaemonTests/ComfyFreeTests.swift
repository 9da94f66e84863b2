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
        let daemon = try await TestDaemon.start(comfyUIURL: comfyui.baseURL)
        let path = daemon.socketPath
        let freed = try await blocking { try RPCClient(socketPath: path).call(.comfyFree, as: ComfyFreeResult.self) }
        #expect(freed.vramFreeBefore == .gibibytes(6) && freed.vramFreeAfter == .gibibytes(8) && freed.freed == .gibibytes(2))
        #expect(await gpu.usedBytes == 0)
        let run = try await ChildProcess.run("gpuctl", ["--socket", path, "free"])
        #expect(run.status == 0 && run.stdout.hasPrefix("ComfyUI freed 0 B (free VRAM 8 GiB → 8 GiB) in "), "\(run)")
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
