import ComfyUIClient
import Foundation
import GPUCtlModels

/// The ComfyUI methods behind the router (so far `comfy.free`).
struct ComfyService: Sendable {
    let comfyui: ComfyUIClient
    /// How long to wait for the memory to come back. ComfyUI frees only after the prompt it is
    /// running (someone else's, from its own page), so this is longer than a short prompt.
    var settleLimit: Duration = .seconds(30)
    /// The longest wait between two /system_stats polls; the first come quicker.
    var pollInterval: Duration = .milliseconds(250)

    /// Asks ComfyUI to unload its models and drop its caches, then watches what its allocator
    /// holds (/system_stats' `torch_vram_total`; `vram_free` is no measure, it counts torch's
    /// reserved cache as free) until it is down to the residue or `settleLimit` passes.
    /// Holding nothing already, it does not wait at all.
    func free() async throws -> ComfyFreeResult {
        let started = ContinuousClock.now
        let before = try await comfyui.systemStats().heldOnGPU
        try await comfyui.free()
        var after = before
        var wait = Duration.milliseconds(10)
        while after > ComfyFreeResult.residue, ContinuousClock.now - started < settleLimit {
            try await Task.sleep(for: wait)
            wait = min(wait * 2, pollInterval)
            after = try await comfyui.systemStats().heldOnGPU
        }
        return ComfyFreeResult(heldBefore: ByteSize(bytes: before), heldAfter: ByteSize(bytes: after),
                               confirmed: after <= ComfyFreeResult.residue,
                               elapsedMs: (ContinuousClock.now - started).milliseconds)
    }
}
