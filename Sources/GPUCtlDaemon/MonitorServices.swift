import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUProbe
import Logging
import OllamaClient
import ServiceLifecycle

/// Probes every managed backend in the background, each call with its own deadline, and tells
/// the Supervisor what it found (up or down, and what it holds). `status` only reads the last.
struct BackendMonitor: Service {
    let backends: BackendRegistry
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
        // Taken before asking: an answer that predates a load, an unload or a job is dropped.
        var epochs: [Backend: Int] = [:]
        for managed in backends.all { epochs[managed.backend] = await supervisor.holdingsEpoch(managed.backend) }
        let results = await withTaskGroup(of: (Backend, BackendStatus, BackendProbe?).self) { group in
            for managed in backends.all {
                group.addTask {
                    let (status, probe) = await Self.probe(managed)
                    return (managed.backend, status, probe)
                }
            }
            var results: [(Backend, BackendStatus, BackendProbe?)] = []
            for await result in group { results.append(result) }
            return results
        }
        // A probe cut short by shutdown says nothing about the backend.
        guard !Task.isCancelled else { return }
        for (backend, status, probe) in results.sorted(by: { $0.0.rawValue > $1.0.rawValue }) {
            await supervisor.observe(backend: backend, status: status, identity: probe?.identity)
            if let holdings = probe?.holdings { await supervisor.observe(holdings, of: backend, epoch: epochs[backend] ?? 0) }
        }
    }

    private static func probe(_ managed: any ManagedBackend) async -> (BackendStatus, BackendProbe?) {
        let url = managed.url
        var found: BackendProbe?
        let status = await probe(url: url) { () async throws -> String in
            let probe = try await managed.probe()
            found = probe
            return probe.version
        }
        return (status, found)
    }

    private static func probe(url: String, _ call: () async throws -> String) async -> BackendStatus {
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
