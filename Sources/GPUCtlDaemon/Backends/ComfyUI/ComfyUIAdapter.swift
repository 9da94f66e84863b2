import ComfyUIClient
import GPUCtlModels

/// ComfyUI as a managed backend: up when `/system_stats` answers, which also says what its
/// allocator holds (checkpoints and caches, ours or someone else's); `/free` gives it back.
struct ComfyUIAdapter: ManagedBackend {
    let comfyui: ComfyUIClient

    var backend: Backend { .comfyui }
    var url: String { comfyui.baseURL }

    func probe() async throws -> BackendProbe {
        let stats = try await comfyui.systemStats()
        return BackendProbe(version: stats.system.comfyuiVersion ?? "unknown",
                            holdings: stats.devices.first.map { .workingSet(bytes: $0.torchVRAMTotal) })
    }

    func freeWorkingSet() async throws -> String {
        let freed = try await ComfyService(comfyui: comfyui).free()
        return "ComfyUI freed \(freed.freed) in \(freed.elapsedMs) ms"
    }
}
