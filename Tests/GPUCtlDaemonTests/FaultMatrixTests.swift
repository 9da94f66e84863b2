import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The built daemon under the mixed workload (MixedWorkload: ComfyUI jobs, streamed and whole
/// generate and chat, embed, from several clients at once) while faults are injected one or two
/// at a time (FaultInjector: Ollama refusing connections, a first byte past the limit, 500s, a
/// stream cut or broken off, Ollama restarting and forgetting its models; ComfyUI's WebSocket
/// dropped, ComfyUI restarting and forgetting its queue, execution errors, /free that frees
/// nothing, another program taking VRAM) and gpuctld itself is killed with SIGKILL 20 times at
/// random moments, then started again. Afterwards: every job ended exactly once, no output
/// twice, no prompt ran twice unless ComfyUI forgot it, the store is intact, the card was never
/// over its total. The seed is printed (`GPUCTL_FAULT_SEED` replays a run).
@Suite(.timeLimit(.minutes(8))) struct FaultMatrixTests {
    static let seed = UInt64(ProcessInfo.processInfo.environment["GPUCTL_FAULT_SEED"] ?? "") ?? UInt64(Date().timeIntervalSince1970)
    static let kills = 20
    static let itemsPerRound = 25

    @Test func twentyKillsUnderMixedWorkAndFaultsLoseAndDuplicateNothing() async throws {
        print("fault matrix: seed \(Self.seed) (GPUCTL_FAULT_SEED=\(Self.seed) replays it)")
        var random = SeededRandom(seed: Self.seed)
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let ollama = FakeOllama(gpu: gpu)
        try await ollama.start()
        let comfyui = FakeComfyUI(gpu: gpu)
        try await comfyui.start()
        comfyui.configure { $0.stepDelay = .milliseconds(5) }
        let faults = FaultInjector(ollama: ollama, comfyui: comfyui, gpu: gpu, slowFirstByte: .seconds(4))
        let directory = try TemporaryDirectory()
        let socket = directory.file("s.sock")
        let catalog = directory.file("models.json")
        try Data(WorkItem.catalog.utf8).write(to: URL(fileURLWithPath: catalog))
        var arguments = ProcessTests.daemonArguments(directory)
        arguments[try #require(arguments.firstIndex(of: "--ollama-url")) + 1] = ollama.baseURL
        arguments[try #require(arguments.firstIndex(of: "--comfyui-url")) + 1] = comfyui.baseURL
        // The first-byte limit is what a slow first byte runs into (4 s against 3 s).
        arguments += ["--config", catalog, "--workflows", BackendTestBed.workflowsDirectory, "--output-dir", directory.file("out"),
                      "--load-timeout", "3s"]

        var jobIDs: [String] = []
        var inference = (served: 0, failed: 0)
        var failureKinds: [String: Int] = [:]
        var startTimes: [Duration] = []
        var injected: [InjectedFault: Int] = [:]
        var logs: [String] = []
        for round in 0...Self.kills {
            let started = ContinuousClock.now
            let daemon = try ChildProcess("gpuctld", arguments)
            #expect(await eventually(within: .seconds(30)) { await ProcessTests.pings(socket) }, "round \(round): no ping")
            startTimes.append(ContinuousClock.now - started)
            guard round < Self.kills else {
                // The last start: the faults healed, let everything finish, then stop cleanly.
                try await faults.heal()
                let ended = await eventually(within: .seconds(180)) {
                    try await blocking {
                        let jobs = try RPCClient(socketPath: socket).call(.status, as: StatusResult.self).jobs
                        return jobs.queued + jobs.running == 0
                    }
                }
                #expect(ended, "jobs were still open at the end")
                daemon.signal(SIGTERM)
                #expect(await daemon.waitForExit(within: .seconds(20)) == 0)
                break
            }
            // The last round's lasting faults end; one or two new ones for this round.
            try await faults.heal()
            for _ in 0...random.below(2) {
                let fault = InjectedFault.allCases[random.below(InjectedFault.allCases.count)]
                injected[fault, default: 0] += 1
                try await faults.inject(fault)
            }
            // The round's work, from several clients at once; the kill lands while it runs.
            let items = (0..<Self.itemsPerRound).map { _ in WorkItem.allCases[random.below(WorkItem.allCases.count)] }
            // Most kills land within the first 650 ms; one round in four runs past the first-byte
            // limit first, so that slow first bytes and waits end in their own errors too.
            let killAfter = Duration.milliseconds(random.below(4) == 0 ? 3_500 + random.below(1_000) : 50 + random.below(600))
            let work = Task { () -> [WorkOutcome] in
                await withTaskGroup(of: WorkOutcome.self) { group in
                    for (index, item) in items.enumerated() {
                        group.addTask { await item.send(to: socket, tag: "r\(round)i\(index)", timeout: .seconds(20)) }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
            try await Task.sleep(for: killAfter)
            daemon.signal(SIGKILL)
            _ = await daemon.waitForExit(within: .seconds(20))
            logs.append("--- round \(round), faults so far \(injected.values.reduce(0, +))\n" + (await daemon.streams(within: .seconds(5)).stderr))
            for outcome in await work.value {
                switch outcome {
                case .job(let id, _): jobIDs.append(id)
                case .served: inference.served += 1
                case .failed(let kind, _):
                    inference.failed += 1
                    failureKinds[kind, default: 0] += 1
                }
            }
        }
        let finished = await comfyui.finishOrder
        // Taken by the fake in the same step as each restart: a mark taken here before the restart
        // raced with a prompt finishing while the server stopped.
        let comfyRestartMarks = await comfyui.restartMarks
        let peak = await gpu.peakBytes
        await ollama.stop()
        await comfyui.stop()
        let slowest = startTimes.max() ?? .zero
        let median = startTimes.sorted()[startTimes.count / 2]
        print("fault matrix: \(jobIDs.count) jobs accepted, inference \(inference.served) served / \(inference.failed) refused or cut \(failureKinds), faults \(injected.map { "\($0.key.rawValue) \($0.value)" }.sorted()), start to ping median \(median) slowest \(slowest)")

        let store = try JobStore(directory: directory.file("state"))
        #expect(try store.integrityCheck() == "ok")
        for id in jobIDs {
            guard let job = try store.job(id: id) else {
                Issue.record("job \(id) was accepted and then lost")
                continue
            }
            let endings = try store.events(jobID: id).filter { $0.state?.isFinal == true }
            #expect(job.state.isFinal && endings.count == 1, "\(id): \(job.state), ended \(endings.count) times")
            if job.state == .succeeded {
                let folder = directory.file("out/\(id)")
                let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                let outputs = job.result.flatMap { JobSpecOutputs.count($0) } ?? -1
                #expect(files.count == outputs && !files.contains { $0.hasSuffix(".partial") }, "\(id): \(files) for \(outputs) outputs")
            }
        }
        // A prompt may run twice only when ComfyUI forgot it in a restart after its first run.
        var firstRun: [String: Int] = [:]
        for (index, prompt) in finished.enumerated() {
            if let first = firstRun[prompt] {
                let history = (try? store.events(jobID: prompt))?.map { "\($0.state?.rawValue ?? "-") \($0.message ?? "")" } ?? []
                let explained = comfyRestartMarks.contains { first < $0 && $0 <= index }
                let log = logs.flatMap { $0.split(separator: "\n") }.filter { $0.contains(prompt) || $0.hasPrefix("---") }.joined(separator: "\n")
                #expect(explained, "prompt \(prompt) ran twice (at \(first) and \(index), restarts at \(comfyRestartMarks)) without ComfyUI forgetting it: \(history)\n\(log)")
            } else {
                firstRun[prompt] = index
            }
        }
        #expect(peak <= 24 << 30, "the card went over its total: \(peak)")
        #expect(jobIDs.count > Self.kills, "too few jobs were accepted to mean anything")
        #expect(inference.served > 0, "no inference call was served")
        // A deadline that catches a wedged start, not a timing (the figures are printed above).
        #expect(slowest < .seconds(5 * testSlowdown), "a restart took \(slowest) to answer ping")
    }
}

/// How many outputs a stored result lists.
enum JobSpecOutputs {
    static func count(_ result: String) -> Int? {
        (try? JSONParser.parse(Data(result.utf8)))?["outputs"]?.arrayValue?.count
    }
}
