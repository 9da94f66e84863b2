import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUProbe
import Logging
import OllamaClient
import ServiceLifecycle

/// Probes Ollama and ComfyUI in the background, each call with its own deadline, and tells the
/// Supervisor. The `status` method only ever reads the last result.
struct BackendMonitor: Service {
    let ollama: OllamaClient
    let comfyui: ComfyUIClient
    let supervisor: Supervisor
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await probeOnce()
                try? await Task.sleep(for: interval)
            }
        }
    }

    func probeOnce() async {
        let epoch = await supervisor.residencyEpoch
        let comfyEpoch = await supervisor.comfyEpoch
        async let ollamaStatus = probe(url: ollama.baseURL) { () async throws -> String in try await ollama.version() }
        // What Ollama holds, including models loaded behind gpuctld's back.
        async let running = try? ollama.runningModels()
        async let comfyStatus = probe(url: comfyui.baseURL) { () async throws -> String in
            let stats = try await comfyui.systemStats()
            // What ComfyUI's own allocator holds: checkpoints and caches, ours or someone else's.
            if let device = stats.devices.first { await supervisor.observe(comfyHeld: device.torchVRAMTotal, epoch: comfyEpoch) }
            return stats.system.comfyuiVersion ?? "unknown"
        }
        let (first, second) = await (ollamaStatus, comfyStatus)
        // A probe cut short by shutdown says nothing about the backend.
        guard !Task.isCancelled else { return }
        await supervisor.observe(backend: .ollama, status: first)
        if let running = await running { await supervisor.observe(running: running, epoch: epoch) }
        await supervisor.observe(backend: .comfyui, status: second)
    }

    private func probe(url: String, _ call: @Sendable () async throws -> String) async -> BackendStatus {
        let started = ContinuousClock.now
        let outcome: Result<String, Error>
        do { outcome = .success(try await call()) } catch { outcome = .failure(error) }
        let elapsed = ContinuousClock.now - started
        let milliseconds = (Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) / 1e15)
        let rounded = (milliseconds * 100).rounded() / 100
        // FoundationEssentials formats this without ICU, which would add megabytes to an idle daemon.
        let checkedAt = Date().formatted(.iso8601)
        switch outcome {
        case .success(let version):
            return BackendStatus(url: url, state: .up, version: version, latencyMs: rounded, checkedAt: checkedAt)
        case .failure(let error):
            return BackendStatus(url: url, state: .down, lastError: "\(error)", latencyMs: rounded, checkedAt: checkedAt)
        }
    }
}

/// Samples the card in the background and tells the Supervisor.
struct GPUMonitor: Service {
    let probe: GPUProbe
    let supervisor: Supervisor
    let interval: Duration

    func run() async throws {
        // A declared GPU never changes: nothing to sample.
        if case .declared = probe.source { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let result: Result<GPUSample, GPUProbeError>
                do throws(GPUProbeError) { result = .success(try await probe.sample()) } catch { result = .failure(error) }
                await supervisor.observe(gpuSample: result)
                try? await Task.sleep(for: interval)
            }
        }
    }
}
