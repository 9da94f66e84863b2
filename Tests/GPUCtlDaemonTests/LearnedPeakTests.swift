import Foundation
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A workflow that takes more than its template says is charged what it was seen to take the
/// next time (issue 14: learned job peaks), measured as how far ComfyUI grew during the job;
/// before it has been seen, the template's estimate and the headroom for sampling.
@Suite(.timeLimit(.minutes(3))) struct LearnedPeakTests {
    @Test func aWorkflowIsChargedWhatItWasSeenToTakeTheNextTime() async throws {
        let bed = try await BackendTestBed.startForJobs()
        // The catalog says its checkpoint takes 5 GiB; on this ComfyUI it takes 8 GiB.
        bed.comfyui.configure {
            $0.checkpointBytes["v1-5-pruned-emaonly.safetensors"] = 8 << 30
            $0.stepDelay = .milliseconds(40)
        }
        let params: JSONValue = ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 10]]
        let first = try await bed.call(.comfySubmit, params, as: JobInfo.self)
        // Never seen running: the estimate and room for sampling (--job-headroom, 2 GiB).
        #expect(first.vram == .gibibytes(7))
        #expect(try await bed.call(.jobsWait, ["id": .string(first.id)], as: JobInfo.self).state == "succeeded")
        let store = bed.daemon.daemon.supervisor.store
        #expect(await eventually { (try? store.footprint(subject: "workflow:txt2img"))?.peakBytes == 8 << 30 })
        let second = try await bed.call(.comfySubmit, params, as: JobInfo.self)
        #expect(second.vram == .gibibytes(8))
        // What another workflow left cached is not charged to a model-free one.
        let invert = try await bed.call(.jobsWait, ["id": .string(try await bed.call(.comfySubmit, ["workflow": "invert", "params": ["width": 16]], as: JobInfo.self).id)], as: JobInfo.self)
        #expect(invert.state == "succeeded")
        try await Task.sleep(for: .milliseconds(300))
        #expect((try? store.footprint(subject: "workflow:invert")) == nil)
        try await bed.stop()
    }

    /// With the card's per-process reading (here a fake nvidia-smi), a job is learned from what
    /// the card saw ComfyUI's process take during it (what PyTorch reserved), not from the
    /// allocator's smaller figure.
    @Test func aJobIsLearnedFromTheCardsReadingWhenThereIsOne() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let card = try await FakeNvidiaSMI(in: directory)
        func comfyHolds(_ mebibytes: Int) throws {
            try card.show([.init(pid: FakeNvidiaSMI.impossiblePID(), commandLine: "/usr/bin/python3 /opt/ComfyUI/main.py", mebibytes: mebibytes)])
        }
        try comfyHolds(500)
        let bed = try await BackendTestBed.startForJobs { configuration in
            configuration.useNvidiaSMI = true
            configuration.nvidiaSMIPath = card.path
            configuration.declaredVRAM = nil
            configuration.gpuSampleInterval = .milliseconds(50)
        }
        bed.comfyui.configure {
            $0.checkpointBytes["v1-5-pruned-emaonly.safetensors"] = 5 << 30
            $0.holdSamplers = true
        }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 2]], as: JobInfo.self)
        #expect(await eventually { (try? await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self))?.state == "running" })
        // While it samples, the card shows ComfyUI's process at 8.5 GiB (500 MiB of context before).
        try comfyHolds(500 + 8_192)
        #expect(await eventually {
            (try? await bed.call(.status, as: StatusResult.self))?.gpu.processes.contains { $0.owner == "comfyui" && $0.used.bytes == 8_692 << 20 } == true
        })
        bed.comfyui.configure { $0.holdSamplers = false }
        #expect(try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self).state == "succeeded")
        let store = bed.daemon.daemon.supervisor.store
        #expect(await eventually { (try? store.footprint(subject: "workflow:txt2img"))?.peakBytes == 8_192 << 20 },
                "\(String(describing: try? store.footprint(subject: "workflow:txt2img")))")
        try await bed.stop()
    }
}
