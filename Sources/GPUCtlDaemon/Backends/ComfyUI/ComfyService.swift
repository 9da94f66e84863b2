import ComfyUIClient
import Foundation
import GPUCtlModels

/// The ComfyUI methods behind the router (so far `comfy.free`).
struct ComfyService: Sendable {
    let comfyui: ComfyUIClient
    /// How long to watch /system_stats for the memory to come back.
    var settleLimit: Duration = .seconds(2)
    var pollInterval: Duration = .milliseconds(50)

    /// Asks ComfyUI to unload its models and drop its caches, then watches /system_stats until
    /// the free VRAM has risen and stopped rising, or `settleLimit` passes (ComfyUI frees after
    /// a running prompt, and sends no signal when it is done).
    func free() async throws -> ComfyFreeResult {
        let started = ContinuousClock.now
        let before = try await comfyui.systemStats().devices.first?.vramFree ?? 0
            try await comfyui.free()
            var after = before
            let deadline = ContinuousClock.now + settleLimit
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: pollInterval)
                let now = try await comfyui.systemStats().devices.first?.vramFree ?? after
                // Risen, then steady: done.
                if now > before, now == after { break }
                after = now
            }
            return ComfyFreeResult(vramFreeBefore: ByteSize(bytes: before), vramFreeAfter: ByteSize(bytes: after),
                                   freed: ByteSize(bytes: after > before ? after - before : 0),
                                   elapsedMs: (ContinuousClock.now - started).milliseconds)
    }
}
