import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Memory is handed from ComfyUI to a model only once ComfyUI holds it no more: a /free that
/// frees nothing is not taken as freed (the model waits, the card is never oversubscribed),
/// and the free is asked again until it does free.
@Suite(.timeLimit(.minutes(3))) struct HandOverTests {
    @Test func aModelWaitsWhileComfyUIKeepsItsMemoryAndLoadsOnceItIsFreed() async throws {
        // 10 GiB: ComfyUI's 5 GiB checkpoint and the 6 GiB model cannot share it.
        let bed = try await BackendTestBed.startForJobs(vram: 10 << 30) { $0.freeTimeout = .milliseconds(300) }
        bed.comfyui.configure { $0.checkpointBytes["v1-5-pruned-emaonly.safetensors"] = 5 << 30 }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 2]], as: JobInfo.self)
        let done = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        #expect(done.state == "succeeded")
        #expect(await bed.gpu.holders["comfyui:v1-5-pruned-emaonly.safetensors"] == 5 << 30)

        bed.comfyui.configure { $0.ignoreFree = true }
        let path = bed.daemon.socketPath
        let generate = Task {
            try await blocking {
                try RPCClient(socketPath: path, timeout: .seconds(60))
                    .callRaw("generate", params: ["model": "llama3.1:8b", "prompt": "hi", "stream": false])
            }
        }
        // Several frees come and go; the model is not loaded beside what ComfyUI still holds.
        try await Task.sleep(for: .seconds(2))
        #expect(await bed.ollama.loadCounts["llama3.1:8b"] == nil, "loaded while ComfyUI held its memory")
        let status = try await bed.call(.status, as: StatusResult.self)
        #expect(status.jobs.queued == 0)

        // ComfyUI lets go: the next try frees, and the request is served without a partial load.
        bed.comfyui.configure { $0.ignoreFree = false }
        _ = try await generate.value
        #expect(await bed.ollama.loadCounts["llama3.1:8b"] == 1)
        #expect(await bed.ollama.partialLoads == 0)
        #expect(await bed.gpu.peakBytes <= 10 << 30)
        try await bed.stop()
    }

    /// Ollama drops a model from /api/ps before the driver gives its memory back: the unload
    /// ends only once the card (here a fake nvidia-smi) shows the runner's memory gone.
    @Test func anUnloadEndsOnlyOnceTheCardShowsTheRunnersMemoryBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let card = try await FakeNvidiaSMI(in: directory)
        try card.show([.init(pid: FakeNvidiaSMI.impossiblePID(), commandLine: "/usr/local/bin/ollama runner --model x", mebibytes: 3100)])
        let bed = try await BackendTestBed.start { configuration in
            configuration.useNvidiaSMI = true
            configuration.nvidiaSMIPath = card.path
            configuration.declaredVRAM = nil
            configuration.gpuSampleInterval = .milliseconds(50)
        }
        _ = try await bed.call(.modelsLoad, ["model": "llama3.2:3b"], as: JSONValue.self)
        let path = bed.daemon.socketPath
        let returned = LockedBox(false)
        let unload = Task {
            _ = try await blocking { try RPCClient(socketPath: path, timeout: .seconds(60)).callRaw("models.unload", params: ["model": "llama3.2:3b"]) }
            returned.mutate { $0 = true }
        }
        #expect(await eventually { await bed.ollama.residentNames.isEmpty })
        // Not a timing: Ollama let go already, the card has not, and the unload waits for it.
        try await Task.sleep(for: .milliseconds(500))
        let status = try await bed.call(.status, as: StatusResult.self)
        #expect(status.gpu.processes.contains { $0.owner == "ollama" })
        #expect(!returned.value, "the unload ended while the card still showed the runner's memory")
        // The runner exits: the card shows the memory back, and the unload is done.
        try card.show([])
        try await unload.value
        #expect(returned.value)
        try await bed.stop()
    }
}
