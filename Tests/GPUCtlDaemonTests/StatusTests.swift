import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The real daemon in-process, its real socket and store, with the fakes as backends.
@Suite(.timeLimit(.minutes(3))) struct StatusTests {
    func status(_ daemon: TestDaemon) async throws -> StatusResult {
        let path = daemon.socketPath
        return try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self) }
    }

    @Test func backendsDownTheDaemonStillAnswers() async throws {
        let daemon = try await TestDaemon.start()
        #expect(await eventually { try await status(daemon).backends.ollama.state == .down })
        let snapshot = try await status(daemon)
        #expect(snapshot.backends.comfyui.state == .down || snapshot.backends.comfyui.state == .unknown)
        #expect(snapshot.backends.ollama.lastError?.contains("unreachable") == true)
        #expect(snapshot.gpu.source == .declared && snapshot.gpu.total == .gibibytes(24))
        #expect(snapshot.budget.budget == ByteSize(bytes: (24 << 30) - (512 << 20)))
        #expect(snapshot.jobs == JobCounts())
        #expect(snapshot.daemon.version == GPUCtlVersion.current && snapshot.daemon.pid == getpid())
        try await daemon.stop()
    }

    @Test func backendsUpShowVersionsAndComeBackAfterAnOutage() async throws {
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let ollama = FakeOllama(gpu: gpu)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await ollama.start()
        try await comfyui.start()
        let daemon = try await TestDaemon.start(ollamaURL: ollama.baseURL, comfyUIURL: comfyui.baseURL)
        #expect(await eventually {
            let backends = try await status(daemon).backends
            return backends.ollama.state == .up && backends.comfyui.state == .up
        })
        let up = try await status(daemon).backends
        #expect(up.ollama.version == "0.33.0-rc2" && up.comfyui.version == "0.3.64")
        #expect(up.ollama.latencyMs != nil && up.ollama.checkedAt != nil && up.ollama.lastError == nil)

        await ollama.stop()
        #expect(await eventually { try await status(daemon).backends.ollama.state == .down })
        try await ollama.restart()
        #expect(await eventually { try await status(daemon).backends.ollama.state == .up })

        try await daemon.stop()
        await ollama.stop()
        await comfyui.stop()
    }

    @Test func aSlowBackendNeverSlowsStatus() async throws {
        let ollama = FakeOllama(gpu: VirtualGPU(totalBytes: 8 << 30))
        try await ollama.start()
        ollama.setLatency(.seconds(15))
        let daemon = try await TestDaemon.start(ollamaURL: ollama.baseURL) { $0.backendProbeTimeout = .seconds(12) }
        // Many status calls while a probe hangs (12 s): every one is answered from what the
        // daemon holds. A call that waited for the probe would pass the client's 8 s; a CI
        // machine busy with the rest of the suite stays inside it (2.5 s against a 3 s probe did
        // not, now and then, on 2 cores).
        let path = daemon.socketPath
        let answered = try await blocking {
            let client = try RPCClient(socketPath: path, timeout: .seconds(8))
            return try (0..<50).map { _ in try client.call(.status, as: StatusResult.self) }.count
        }
        #expect(answered == 50)
        try await daemon.stop()
        await ollama.stop()
    }

    @Test func catalogSummaryAndJobCountsComeFromTheirSources() async throws {
        let directory = try TemporaryDirectory()
        let catalog = directory.file("models.json")
        try #"{"models":{"a":{"backend":"ollama","vram":"1GiB","pinned":true},"b":{"backend":"comfyui","vram":"2GiB"}}}"#
            .write(toFile: catalog, atomically: true, encoding: .utf8)
        let daemon = try await TestDaemon.start { $0.catalogPath = catalog }
        let summary = try await status(daemon).catalog
        #expect(summary == CatalogSummary(path: catalog, models: 2, ollama: 1, comfyui: 1, pinned: 1, declaredVRAM: .gibibytes(3)))
        try await daemon.stop()
        directory.remove()
    }

    @Test func aCatalogPathThatIsNoFileStopsTheStart() async throws {
        let directory = try TemporaryDirectory()
        await #expect {
            _ = try await TestDaemon.start { $0.catalogPath = directory.path }
        } throws: { error in
            (error as? DaemonStartError)?.message == "the catalog \(directory.path) is not a file; check the path given with --config / GPUCTL_CONFIG"
        }
        directory.remove()
    }

    @Test func aBrokenCatalogStopsTheStartWithItsProblems() async throws {
        let directory = try TemporaryDirectory()
        let catalog = directory.file("models.json")
        try #"{"models":{"a":{"backend":"ollama","vram":"1GiB","pined":true}}}"#.write(toFile: catalog, atomically: true, encoding: .utf8)
        await #expect {
            _ = try await TestDaemon.start { $0.catalogPath = catalog }
        } throws: { error in
            (error as? DaemonStartError)?.message == "\(catalog): model 'a': unknown field 'pined'; did you mean 'pinned'?"
        }
        directory.remove()
    }
}

/// The daemon reading a card through NVML (the fake library), end to end to `status`.
@Suite(.timeLimit(.minutes(3))) struct NVMLStatusTests {
    @Test func foreignProcessesShrinkTheBudget() async throws {
        let library = try FakeNVML.build()
        let daemon = try await TestDaemon.start {
            $0.nvmlPath = library
            $0.declaredVRAM = nil
            $0.reserve = .mebibytes(512)
        }
        let path = daemon.socketPath
        let status = try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self) }
        #expect(status.gpu.source == .nvml && status.gpu.name == "NVIDIA GeForce RTX 4090")
        #expect(status.gpu.total.bytes == FakeNVML.totalBytes && status.gpu.used.bytes == FakeNVML.usedBytes)
        #expect(status.gpu.processes.map(\.owner) == ["foreign", "foreign", "foreign"])
        #expect(status.budget.foreign.bytes == FakeNVML.processBytes)
        #expect(status.budget.budget.bytes == FakeNVML.totalBytes - (512 << 20) - FakeNVML.processBytes)
        try await daemon.stop()
    }
}

@Suite(.timeLimit(.minutes(3))) struct AllowGroupTests {
    @Test func theSocketIsGivenToTheAllowedGroup() async throws {
        let daemon = try await TestDaemon.start { $0.allowGroup = "root" }
        let attributes = try FileManager.default.attributesOfItem(atPath: daemon.socketPath)
        #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.intValue == 0)
        #expect((attributes[.posixPermissions] as? Int) == 0o660)
        try await daemon.stop()
    }

    @Test func anUnknownGroupStopsTheStart() async throws {
        await #expect {
            _ = try await TestDaemon.start { $0.allowGroup = "no-such-group-gpuctl" }
        } throws: { error in
            (error as? DaemonStartError)?.message == "--allow-group names 'no-such-group-gpuctl', which is not a group on this system; create it (groupadd no-such-group-gpuctl) or leave it out"
        }
    }
}
