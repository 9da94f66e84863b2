import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// ComfyUI jobs through the daemon: submitted one at a time, followed over /ws, outputs saved.
@Suite(.timeLimit(.minutes(3))) struct ComfyJobTests {
    static let catalog = BackendTestBed.jobsCatalog

    static func start(vram: UInt64 = 16 << 30, configure: @escaping (inout DaemonConfiguration) -> Void = { _ in })
        async throws -> BackendTestBed {
        try await BackendTestBed.startForJobs(vram: vram, configure: configure)
    }

    static func submit(_ bed: BackendTestBed, _ params: JSONValue) async throws -> JobInfo {
        try await bed.call(.comfySubmit, params, as: JobInfo.self)
    }

    static func wait(_ bed: BackendTestBed, _ id: String) async throws -> JobInfo {
        try await bed.call(.jobsWait, ["id": .string(id)], as: JobInfo.self)
    }

    @Test func aWorkflowRunsAndItsOutputsAreSaved() async throws {
        let bed = try await Self.start()
        let submitted = try await Self.submit(bed, ["workflow": "invert", "params": ["width": 64, "prefix": "t/inv"]])
        #expect(submitted.state == "queued" && submitted.workflow == "invert" && submitted.promptId != nil)
        let (notes, result) = try await bed.stream(.jobsWait, ["id": .string(submitted.id)])
        let job = try JSONDecoder().decode(JobInfo.self, from: JSONWriter.data(try result.get()))
        #expect(job.state == "succeeded", "\(job)")
        let states = notes.compactMap { $0["state"]?.stringValue }
        #expect(states.last == "succeeded" && states.contains("running"), "\(states)")
        let output = try #require(job.outputs?.first)
        #expect(job.outputs?.count == 1 && output.contentType == "image/png" && output.filename == "inv_00001_.png")
        #expect(output.path.hasPrefix(bed.daemon.daemon.configuration.outputDirectory + "/" + job.id + "/"))
        #expect(FileManager.default.contents(atPath: output.path) == Data(FakeComfyUI.png))
        #expect(job.attempts == 1)
        // The record: every state, in order.
        let got = try await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self)
        #expect(got.history?.map(\.state) == ["queued", "admitted", "submitted", "running", "succeeded"])
        // An identical re-run is served from ComfyUI's cache and still yields the file.
        let again = try await Self.wait(bed, try await Self.submit(bed, ["workflow": "invert", "params": ["width": 64, "prefix": "t/inv"]]).id)
        #expect(again.state == "succeeded" && again.outputs?.first?.filename == "inv_00001_.png")
        #expect(FileManager.default.contents(atPath: again.outputs?.first?.path ?? "") == Data(FakeComfyUI.png))
        let list = try await bed.call(.jobsList, [:], as: JobsListResult.self)
        #expect(list.jobs.map(\.id) == [again.id, job.id])
        try await bed.stop()
    }

    /// jobs.wait reports where a running job is: the node, its class, the sampler's step out of
    /// how many, and nodes done of all; at most about every 100 ms, the latest always.
    @Test func aRunningJobReportsItsProgress() async throws {
        let bed = try await Self.start()
        bed.comfyui.configure { $0.stepDelay = .milliseconds(10); $0.holdSamplers = true }
        let submitted = try await Self.submit(bed, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 60]])
        // The sampler starts once the waiter follows the job: on a loaded machine the job could
        // otherwise be over before jobs.wait arrives, with no progress left to report.
        let waiting = Task { try await bed.stream(.jobsWait, ["id": .string(submitted.id)]) }
        #expect(await eventually { await bed.daemon.daemon.supervisor.watcherCount(submitted.id) == 1 })
        bed.comfyui.configure { $0.holdSamplers = false }
        let (notes, result) = try await waiting.value
        #expect(try JSONDecoder().decode(JobInfo.self, from: JSONWriter.data(try result.get())).state == "succeeded")
        let progress = try notes.compactMap { note -> JobProgress? in
            guard let value = note["progress"] else { return nil }
            return try JSONDecoder().decode(JobProgress.self, from: JSONWriter.data(value))
        }
        let sampling = progress.filter { $0.nodeType == "KSampler" }
        #expect(sampling.contains { $0.max == 60 }, "\(progress)")
        // The sampler's start may come on its own, before its first step (no value, no max yet):
        // under load the 100 ms coalescing does not always fold it into the first step.
        #expect(sampling.allSatisfy {
            $0.nodesTotal == 7 && ($0.value == nil ? $0.max == nil : $0.max == 60 && $0.value! <= 60)
        }, "\(sampling)")
        // Steps only move forward, and a 600 ms sampler is not one notification per step.
        let steps = sampling.compactMap(\.value)
        #expect(steps == steps.sorted() && steps.count < 60, "\(steps)")
        try await bed.stop()
    }
}
