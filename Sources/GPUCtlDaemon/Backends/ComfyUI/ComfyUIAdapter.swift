import ComfyUIClient
import GPUCtlModels

/// ComfyUI as a managed backend: up when `/system_stats` answers, which also says what its
/// allocator holds (checkpoints and caches, ours or someone else's); `/free` gives it back.
struct ComfyUIAdapter: ManagedBackend {
    let service: ComfyService
    var comfyui: ComfyUIClient { service.comfyui }

    var backend: Backend { .comfyui }
    var url: String { comfyui.baseURL }

    func probe() async throws -> BackendProbe {
        let stats = try await comfyui.systemStats()
        return BackendProbe(version: stats.system.comfyuiVersion ?? "unknown", identity: stats.identity,
                            holdings: stats.devices.isEmpty ? nil : .workingSet(bytes: stats.heldOnGPU))
    }

    func freeWorkingSet() async throws -> FreeOutcome {
        let freed = try await service.free()
        let summary = freed.confirmed
            ? "ComfyUI freed \(freed.freed) in \(Int(freed.elapsedMs)) ms"
            : "ComfyUI still holds \(freed.heldAfter) after /free and \(Int(freed.elapsedMs)) ms (a prompt of its own running, or models it keeps)"
        return FreeOutcome(confirmed: freed.confirmed, stillHeld: freed.heldAfter.bytes, summary: summary)
    }
}
