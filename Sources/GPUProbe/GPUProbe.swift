import Foundation
import Logging

/// Reads the card through the best source this machine has: NVML, else nvidia-smi, else the
/// total the user declared (`--vram`). The source is chosen once, at start.
public struct GPUProbe: Sendable {
    public enum Source: Sendable {
        case nvml(NVMLLibrary)
        case nvidiaSMI(path: String)
        case declared(totalBytes: UInt64)

        /// Whether samples say what each process holds (a declared card says nothing).
        public var readsProcesses: Bool {
            if case .declared = self { return false }
            return true
        }
    }

    public let source: Source
    /// Which card to read on a multi-GPU machine.
    public let index: Int
    public let timeout: Duration

    public init(source: Source, index: Int = 0, timeout: Duration = .seconds(5)) {
        self.source = source
        self.index = index
        self.timeout = timeout
    }

    /// Picks NVML, then nvidia-smi, then the declared total, logging why each was passed over.
    public static func detect(declaredTotalBytes: UInt64?, index: Int = 0,
                              nvmlPath: String = NVMLLibrary.defaultPath,
                              nvidiaSMIPath: String? = GPUProbe.locate("nvidia-smi"),
                              logger: Logger) async -> GPUProbe {
        do {
            let library = try NVMLLibrary(path: nvmlPath)
            let count = try library.count()
            if index < count { return GPUProbe(source: .nvml(library), index: index) }
            logger.info("NVML sees \(count) GPU(s); index \(index) is not among them")
        } catch {
            logger.debug("not using NVML: \(error.message)")
        }
        if let nvidiaSMIPath {
            let probe = GPUProbe(source: .nvidiaSMI(path: nvidiaSMIPath), index: index)
            do {
                _ = try await probe.sample()
                return probe
            } catch {
                logger.info("not using nvidia-smi: \(error.message)")
            }
        }
        return GPUProbe(source: .declared(totalBytes: declaredTotalBytes ?? 0), index: index)
    }

    /// The full path of an executable on PATH, or nil.
    public static func locate(_ name: String) -> String? { CommandRunner.find(name) }

    /// One reading. Throws with the reason when the source fails this time.
    public func sample() async throws(GPUProbeError) -> GPUSample {
        switch source {
        case .nvml(let library):
            return try library.sample(index: index)
        case .nvidiaSMI(let path):
            return try await sampleNvidiaSMI(path: path)
        case .declared(let total):
            return GPUSample(index: index, name: "declared (no GPU readable)", totalBytes: total,
                             usedBytes: 0, freeBytes: total, source: .declared)
        }
    }

    private func sampleNvidiaSMI(path: String) async throws(GPUProbeError) -> GPUSample {
        let gpus = try await CommandRunner.run(path, [
            "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free",
            "--format=csv,noheader,nounits",
        ], timeout: timeout)
        let rows = try NvidiaSMIParser.parseGPUs(gpus.stdout)
        guard gpus.status == 0 || !rows.isEmpty else {
            let text = gpus.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GPUProbeError("nvidia-smi failed (exit \(gpus.status)): \(text.isEmpty ? "no output" : text)")
        }
        guard let row = rows.first(where: { $0.index == index }) else {
            throw GPUProbeError(rows.isEmpty ? "nvidia-smi found no GPU" : "nvidia-smi has no GPU with index \(index)")
        }
        let apps = try await CommandRunner.run(path, [
            "--query-compute-apps=gpu_uuid,pid,process_name,used_memory",
            "--format=csv,noheader,nounits",
        ], timeout: timeout)
        let processes = try NvidiaSMIParser.parseApps(apps.stdout)
            .filter { $0.gpuUUID == row.uuid }
            .map { app in
                let commandLine = ProcessNames.commandLine(of: app.pid)
                return GPUProcessSample(pid: app.pid, name: commandLine.hasPrefix("pid ") ? app.processName : commandLine,
                                        usedBytes: app.usedBytes)
            }
        return GPUSample(index: row.index, name: row.name, totalBytes: row.totalBytes, usedBytes: row.usedBytes,
                         freeBytes: row.freeBytes, source: .nvidiaSMI, processes: processes)
    }
}
