import Foundation
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Issue 14's case: a job whose sampling needs more than its checkpoint's catalog size, on a
/// 12 GiB card with a 6 GiB model resident. Charged by the catalog alone (`--job-headroom 0`)
/// it is admitted beside the model and runs the card out of memory; that is not final: the job
/// goes back in line, first, under a new prompt id, charged the shortfall more, the idle model
/// is unloaded to make the room, and it succeeds. Its workflow's next job is charged that.
@Suite(.timeLimit(.minutes(3))) struct MemoryRetryTests {
    static let gib: UInt64 = 1 << 30

    @Test func aJobThatRunsOutOfMemoryIsRetriedOnceWithRoomMade() async throws {
        let bed = try await BackendTestBed.startForJobs(vram: 12 << 30) { $0.jobHeadroom = ByteSize(bytes: 0) }
        bed.comfyui.configure {
            $0.checkpointBytes["v1-5-pruned-emaonly.safetensors"] = 5 << 30
            $0.samplerBytes = 3 << 30
        }
        _ = try await bed.call(.modelsLoad, ["model": "llama3.1:8b"], as: JSONValue.self)
        let params: JSONValue = ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 4]]
        let job = try await bed.call(.comfySubmit, params, as: JobInfo.self)
        #expect(job.vram == .gibibytes(5))
        let done = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        #expect(done.state == "succeeded", "\(done.error ?? "")")
        #expect(done.vram == .gibibytes(8), "charged the 3 GiB it could not allocate on top")
        // It ran twice in ComfyUI, under two prompt ids; the model made way for the second.
        let finished = await bed.comfyui.finishOrder
        #expect(finished.count == 2 && Set(finished).count == 2)
        #expect(done.promptId != job.promptId || job.promptId == nil)
        #expect(await bed.ollama.residentNames.isEmpty, "the idle model was not unloaded for the retry")
        #expect(await bed.gpu.peakBytes <= 12 << 30)
        let history = try await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self).history ?? []
        #expect(history.contains { $0.state == "queued" && ($0.message ?? "").contains("ran out of memory") })
        // Its workflow learned the shortfall: the next job is charged it from the start.
        let store = bed.daemon.daemon.supervisor.store
        #expect(await eventually { ((try? store.footprint(subject: "workflow:txt2img"))?.peakBytes ?? 0) >= 8 << 30 })
        let next = try await bed.call(.comfySubmit, params, as: JobInfo.self)
        #expect(next.vram == .gibibytes(8))
        #expect(try await bed.call(.jobsWait, ["id": .string(next.id)], as: JobInfo.self).state == "succeeded")
        try await bed.stop()
    }

    /// Memory gpuctld cannot see (another program's, on a card it was told the size of) makes
    /// the retry run out too: the job fails then, with PyTorch's numbers and what to do.
    @Test func aJobThatRunsOutTwiceFailsWithTheNumbers() async throws {
        let bed = try await BackendTestBed.startForJobs(vram: 16 << 30)
        #expect(await bed.gpu.allocate("a game", bytes: 6 << 30))
        bed.comfyui.configure {
            $0.checkpointBytes["v1-5-pruned-emaonly.safetensors"] = 5 << 30
            $0.samplerBytes = 6 << 30
        }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 2]], as: JobInfo.self)
        let done = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        #expect(done.state == "failed")
        let error = done.error ?? ""
        #expect(error.contains("Tried to allocate 6.00 GiB") && error.contains("ran out of memory again"), "\(error)")
        #expect(done.vram == .gibibytes(13))
        #expect(await bed.comfyui.finishOrder.count == 2)
        try await bed.stop()
    }

    /// A shortfall that could never fit in the budget is not retried: it fails at once, saying so.
    @Test func aJobThatCouldNeverFitIsNotRetried() async throws {
        let bed = try await BackendTestBed.startForJobs(vram: 12 << 30)
        bed.comfyui.configure { $0.samplerBytes = 20 << 30 }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 2]], as: JobInfo.self)
        let done = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        #expect(done.state == "failed")
        let error = done.error ?? ""
        #expect(error.contains("Tried to allocate 20.00 GiB") && error.contains("not retried"), "\(error)")
        #expect(await bed.comfyui.finishOrder.count == 1)
        try await bed.stop()
    }
}
