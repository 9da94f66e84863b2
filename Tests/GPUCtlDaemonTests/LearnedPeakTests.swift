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
}
