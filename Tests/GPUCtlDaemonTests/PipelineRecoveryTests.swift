import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A storyboard run survives gpuctld killed with -9 twice: once while the LLM writes the
/// captions, once while ComfyUI draws a frame. Nothing that had finished runs again, the frame
/// being drawn is followed by its prompt_id (ComfyUI runs each prompt once), and the run ends.
@Suite(.timeLimit(.minutes(3))) struct PipelineRecoveryTests {
    typealias Units = [String: PipelineStepInfo]

    static func units(_ job: JobInfo) -> Units {
        Dictionary((job.steps ?? []).map { ("\($0.step)[\($0.item ?? -1)]", $0) }, uniquingKeysWith: { $1 })
    }

    static func job(_ socket: String, _ id: String) async throws -> JobInfo {
        try await blocking { try RPCClient(socketPath: socket).call(.jobsGet, params: ["id": .string(id)], as: JobInfo.self) }
    }

    /// Waits until `ready` holds for the run, then kills the daemon; returns what had finished.
    static func kill(_ daemon: ChildProcess, _ socket: String, _ id: String, when ready: @escaping @Sendable (Units) -> Bool) async throws -> Units {
        let seen = LockedBox<Units>([:])
        let reached = await eventually(within: .seconds(60)) {
            let units = Self.units(try await Self.job(socket, id))
            seen.mutate { $0 = units }
            return ready(units)
        }
        daemon.signal(SIGKILL)
        _ = await daemon.waitForExit()
        #expect(reached, "never reached the moment to kill: \(seen.value.keys.sorted())")
        // Read after the kill: the store holds at least what the daemon had answered.
        return seen.value.filter { $0.value.state == "succeeded" }
    }

    @Test func kill9DuringTheCaptionsAndDuringAFrameRerunsNothingThatFinished() async throws {
        let gpu = VirtualGPU(totalBytes: 16 << 30)
        let ollama = FakeOllama(gpu: gpu)
        let comfyui = FakeComfyUI(gpu: gpu)
        try await ollama.start()
        try await comfyui.start()
        // Every prompt the LLM was sent, to show which steps ran twice.
        let prompts = LockedBox<[String: Int]>([:])
        let phase = LockedBox(0)
        let log = LockedBox<[String]>([])
        ollama.configure {
            $0.tokenDelay = .milliseconds(40)
            $0.script = { prompt, format in
                prompts.mutate { $0[prompt, default: 0] += 1 }
                log.mutate { $0.append("\(phase.value) \(Date()) \(prompt.prefix(40))") }
                return format == nil ? nil : PipelineTests.script(shots: 4)(prompt, format)
            }
        }
        comfyui.configure { $0.stepDelay = .milliseconds(40) }
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        let catalog = directory.file("models.json")
        try BackendTestBed.jobsCatalog.write(toFile: catalog, atomically: true, encoding: .utf8)
        var arguments = ProcessTests.daemonArguments(directory)
        arguments[try #require(arguments.firstIndex(of: "--ollama-url")) + 1] = ollama.baseURL
        arguments[try #require(arguments.firstIndex(of: "--comfyui-url")) + 1] = comfyui.baseURL
        arguments[try #require(arguments.firstIndex(of: "--vram")) + 1] = "16GiB"
        arguments += ["--config", catalog, "--workflows", BackendTestBed.workflowsDirectory, "--output-dir", directory.file("out")]

        var daemon = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        let run = try await blocking {
            try RPCClient(socketPath: socket).call(.pipelineRun, params: ["pipeline": "storyboard", "inputs": ["story": "a fox at sea", "shots": 4, "model": "llama3.1:8b"]], as: JobInfo.self)
        }
        // 1: a caption has been written and another is being written.
        let beforeFirst = try await Self.kill(daemon, socket, run.id) { units in
            units.values.contains { $0.step == "caption" && $0.state == "succeeded" }
                && units.values.contains { $0.step == "caption" && $0.state == "running" }
        }
        phase.mutate { $0 = 1 }
        daemon = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        // 2: a frame has been drawn and another is being drawn in ComfyUI.
        let beforeSecond = try await Self.kill(daemon, socket, run.id) { units in
            units.values.contains { $0.step == "frame" && $0.state == "succeeded" }
                && units.values.contains { $0.step == "frame" && $0.state == "running" && $0.job != nil }
        }
        comfyui.configure { $0.stepDelay = .milliseconds(1) }
        daemon = try ChildProcess("gpuctld", arguments)
        #expect(await eventually { await ProcessTests.pings(socket) })
        let ended = try await blocking {
            try RPCClient(socketPath: socket, timeout: .seconds(120)).call(.jobsWait, params: ["id": .string(run.id)], as: JobInfo.self)
        }
        #expect(ended.state == "succeeded", "\(ended)")
        let after = Self.units(try await Self.job(socket, run.id))
        #expect(after.count == 9 && after.values.allSatisfy { $0.state == "succeeded" }, "\(after)")
        // What had finished before a kill was not run again: same attempt, same end.
        for (unit, before) in beforeFirst.merging(beforeSecond, uniquingKeysWith: { $1 }) {
            #expect(after[unit]?.attempts == before.attempts && after[unit]?.endedAt == before.endedAt, "\(unit) ran again")
        }
        // The plan was asked for once; no caption more than twice (the one cut by the kill).
        let asked = prompts.value
        #expect(asked.filter { $0.key.contains("Split this story") }.map(\.value) == [1], "\(asked)")
        #expect(asked.values.allSatisfy { $0 <= 2 } && asked.values.filter { $0 == 2 }.count <= 1, "\(asked)\n\(log.value.joined(separator: "\n"))\n\(beforeFirst.keys.sorted())")
        // ComfyUI ran each frame's prompt once, the interrupted one followed, not resubmitted.
        let finished = await comfyui.finishOrder
        #expect(finished.count == 4 && Set(finished).count == 4, "\(finished)")
        let frames = (ended.result?["frames"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(frames.count == 4 && frames.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "\(ended.result ?? .null)")

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(within: .seconds(10)) == 0)
        let store = try JobStore(directory: directory.file("state"))
        #expect(try store.integrityCheck() == "ok")
        try store.close()
        await ollama.stop()
        await comfyui.stop()
        directory.remove()
    }
}
