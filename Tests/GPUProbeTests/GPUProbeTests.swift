import Foundation
import ProcessSpawn
import GPUCtlTestSupport
import GPUProbe
import Logging
import Testing

@Suite(.timeLimit(.minutes(3))) struct GPUProbeTests {
    let logger = Logger(label: "test")

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "gpuprobe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func buildFakeNVML() throws -> String { try FakeNVML.build() }

    @Test func absentNVMLIsAReasonNotACrash() {
        #expect {
            _ = try NVMLLibrary(path: "/nonexistent/libnvidia-ml.so.1")
        } throws: { error in
            (error as? GPUProbeError)?.message.hasPrefix("NVML is not available") == true
        }
    }

    @Test func nvmlBindingReadsMemoryAndProcesses() throws {
        let library = try NVMLLibrary(path: try buildFakeNVML())
        #expect(try library.count() == 2)
        let sample = try library.sample(index: 0)
        #expect(sample.name == "NVIDIA GeForce RTX 4090")
        #expect(sample.source == .nvml)
        #expect(sample.totalBytes == 25_757_220_864 && sample.usedBytes == 7_516_192_768)
        #expect(sample.freeBytes == 25_757_220_864 - 7_516_192_768)
        // Compute and graphics use of one pid add up; "not available" reads as 0.
        #expect(sample.processes.map(\.pid) == FakeNVML.pids)
        let expected: [UInt64] = [5 << 30, (1 << 30) + (256 << 20), 0]
        #expect(sample.processes.map(\.usedBytes) == expected)
        #expect(try library.sample(index: 1).name == "NVIDIA RTX A4000")
        #expect(throws: GPUProbeError.self) { try library.sample(index: 5) }
    }

    /// The fake's `_v3` calls write 32-byte rows, as drivers 535.43–535.86 do: the binding must
    /// read the `_v2` calls (24-byte rows), or the unversioned ones (16) where `_v2` is absent,
    /// so no layout is misread and 20 processes do not overflow the buffer.
    @Test func processRowsAreReadWithTheirOwnEntryPointsLayout() throws {
        let expected: [UInt64] = [5 << 30, (1 << 30) + (256 << 20), 0]
        let withoutV2 = try NVMLLibrary(path: try FakeNVML.build(.withoutV2)).sample(index: 0)
        #expect(withoutV2.processes.map(\.pid) == FakeNVML.pids)
        #expect(withoutV2.processes.map(\.usedBytes) == expected)
        let many = try NVMLLibrary(path: try FakeNVML.build(.manyProcesses)).sample(index: 0)
        let pids: [Int32] = [FakeNVML.pids[1]] + FakeNVML.manyPIDs
        #expect(many.processes.map(\.pid) == pids)
        let total: UInt64 = many.processes.map(\.usedBytes).reduce(0, +)
        #expect(total == FakeNVML.manyProcessBytes)
    }

    @Test func detectPrefersNVML() async throws {
        let probe = await GPUProbe.detect(declaredTotalBytes: 1, nvmlPath: try buildFakeNVML(), nvidiaSMIPath: nil, logger: logger)
        #expect(try await probe.sample().source == .nvml)
    }

    @Test func detectFallsBackToNvidiaSMI() async throws {
        let directory = try temporaryDirectory()
        let script = "\(directory)/nvidia-smi"
        try await """
            #!/bin/sh
            case "$1" in
              --query-gpu=*) echo "0, GPU-aaaa, NVIDIA GeForce RTX 3090, 24576, 6144, 18432"
                             echo "1, GPU-bbbb, NVIDIA GeForce RTX 3060, 12288, 0, 12288" ;;
              --query-compute-apps=*) echo "GPU-aaaa, \(FakeNvidiaSMI.impossiblePID()), /usr/bin/someone-else, 2048"
                                      echo "GPU-bbbb, \(FakeNvidiaSMI.impossiblePID(1)), /usr/local/bin/ollama, 1024" ;;
            esac
            """.writeExecutable(to: script)
        let probe = await GPUProbe.detect(declaredTotalBytes: nil, nvmlPath: "/nonexistent.so", nvidiaSMIPath: script, logger: logger)
        let sample = try await probe.sample()
        #expect(sample.source == .nvidiaSMI)
        let total: UInt64 = 24576 << 20, used: UInt64 = 6144 << 20
        #expect(sample.name == "NVIDIA GeForce RTX 3090")
        #expect(sample.totalBytes == total && sample.usedBytes == used)
        // Only the processes of the chosen card.
        #expect(sample.processes.map(\.pid) == [FakeNvidiaSMI.impossiblePID()])
        #expect(sample.processes.first?.name == "/usr/bin/someone-else")
    }

    @Test func brokenNvidiaSMIFallsBackToDeclared() async throws {
        let directory = try temporaryDirectory()
        let script = "\(directory)/nvidia-smi"
        try await "#!/bin/sh\necho 'No devices were found'\nexit 6\n".writeExecutable(to: script)
        let probe = await GPUProbe.detect(declaredTotalBytes: 8 << 30, nvmlPath: "/nonexistent.so", nvidiaSMIPath: script, logger: logger)
        let sample = try await probe.sample()
        let eight: UInt64 = 8 << 30
        #expect(sample.source == .declared)
        #expect(sample.totalBytes == eight && sample.freeBytes == eight)
    }

    @Test func hangingNvidiaSMIIsStopped() async throws {
        let directory = try temporaryDirectory()
        let script = "\(directory)/nvidia-smi"
        try await "#!/bin/sh\nexec sleep 30\n".writeExecutable(to: script)
        let probe = GPUProbe(source: .nvidiaSMI(path: script), timeout: .milliseconds(200))
        await #expect {
            _ = try await probe.sample()
        } throws: { error in
            (error as? GPUProbeError)?.message.contains("did not answer") == true
        }
    }
}
