import GPUProbe
import Testing

/// Outputs recorded in the shape nvidia-smi prints them.
@Suite(.timeLimit(.minutes(3))) struct NvidiaSMIParserTests {
    @Test func singleGPU() throws {
        let rows = try NvidiaSMIParser.parseGPUs("0, GPU-5f3a1c2e-8d1b-4c5e-9a7f-0123456789ab, NVIDIA GeForce RTX 4090, 24564, 7012, 17184\n")
        #expect(rows == [.init(index: 0, uuid: "GPU-5f3a1c2e-8d1b-4c5e-9a7f-0123456789ab", name: "NVIDIA GeForce RTX 4090",
                               totalBytes: 24564 << 20, usedBytes: 7012 << 20, freeBytes: 17184 << 20)])
    }

    @Test func multiGPU() throws {
        let output = """
            0, GPU-aaaaaaaa-0000-0000-0000-000000000000, NVIDIA GeForce RTX 3090, 24576, 1, 24243
            1, GPU-bbbbbbbb-1111-1111-1111-111111111111, NVIDIA GeForce RTX 3060, 12288, 11000, 1061

            """
        let rows = try NvidiaSMIParser.parseGPUs(output)
        #expect(rows.map(\.index) == [0, 1])
        #expect(rows[1].name == "NVIDIA GeForce RTX 3060" && rows[1].usedBytes == 11000 << 20)
    }

    @Test func noDevices() throws {
        #expect(try NvidiaSMIParser.parseGPUs("No devices were found\n").isEmpty)
    }

    @Test func unsupportedValuesReadAsZero() throws {
        let rows = try NvidiaSMIParser.parseGPUs("0, GPU-x, NVIDIA A100-SXM4-40GB MIG 1g.5gb, [N/A], [Not Supported], [N/A]\n")
        #expect(rows.first?.totalBytes == 0 && rows.first?.usedBytes == 0)
    }

    @Test func driverFailureIsAnError() {
        #expect(throws: GPUProbeError.self) {
            try NvidiaSMIParser.parseGPUs("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n")
        }
    }

    @Test func computeApps() throws {
        let output = """
            GPU-aaaaaaaa-0000-0000-0000-000000000000, 2211, /usr/local/bin/ollama, 5734
            GPU-aaaaaaaa-0000-0000-0000-000000000000, 3312, python3 main.py --listen 127.0.0.1, --port 8188, 2048
            GPU-bbbbbbbb-1111-1111-1111-111111111111, 4410, /usr/bin/blender, [N/A]
            """
        let apps = try NvidiaSMIParser.parseApps(output)
        #expect(apps.count == 3)
        #expect(apps[0] == .init(gpuUUID: "GPU-aaaaaaaa-0000-0000-0000-000000000000", pid: 2211,
                                 processName: "/usr/local/bin/ollama", usedBytes: 5734 << 20))
        // A comma inside the process name does not shift the memory column.
        #expect(apps[1].processName == "python3 main.py --listen 127.0.0.1, --port 8188" && apps[1].usedBytes == 2048 << 20)
        #expect(apps[2].usedBytes == 0)
    }

    @Test func noApps() throws {
        #expect(try NvidiaSMIParser.parseApps("").isEmpty)
        #expect(try NvidiaSMIParser.parseApps("No running processes found\n").isEmpty)
    }
}
