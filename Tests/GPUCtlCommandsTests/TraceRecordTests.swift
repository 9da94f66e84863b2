import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlSim
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// `gpuctl trace record FILE` against a daemon doing real work: the file it writes is a trace
/// gpuctl-sim reads and replays under every policy, with no prompt text in it.
@Suite(.timeLimit(.minutes(3))) struct TraceRecordTests {
    @Test func aRecordedDayReplaysInTheSimulator() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let directory = try TemporaryDirectory()
        let file = directory.file("day.jsonl")
        let socket = bed.daemon.socketPath
        // Before the recorder starts: its arrivals count from its own start, which comes after.
        let began = Date()
        let recorder = try ChildProcess("gpuctl", ["trace", "record", file, "--name", "my-day", "--socket", socket])
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        for model in ["llama3.1:8b", "llama3.2:3b", "llama3.1:8b"] {
            _ = try await blocking {
                try RPCClient(socketPath: socket, timeout: .seconds(30))
                    .callRaw("generate", params: ["model": .string(model), "prompt": "a secret prompt", "stream": false])
            }
        }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a secret cat", "steps": 3],
                                                    "class": "batch"], as: JobInfo.self)
        #expect(try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self).state == "succeeded")
        let elapsed = Date().timeIntervalSince(began) + 1
        // Every line is on disk as it comes: four arrivals, then stop it as a user would.
        #expect(await eventually { (try? TraceFile(contentsOf: file))?.arrivals.count == 4 })
        recorder.signal(SIGINT)
        #expect(await recorder.waitForExit() == 130)

        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains("secret"), "prompt text leaked into the trace")
        let trace = try TraceFile(contentsOf: file)
        #expect(trace.header.trace == "my-day" && trace.header.card == .gibibytes(16))
        #expect(trace.header.models.contains { $0.name == "llama3.1:8b" && $0.bytes == .gibibytes(6) })
        #expect(trace.header.workflows.contains { $0.name == "txt2img" && $0.checkpointBytes == .gibibytes(5) })
        #expect(trace.arrivals.compactMap(\.model) == ["llama3.1:8b", "llama3.2:3b", "llama3.1:8b"])
        #expect(trace.arrivals.last?.workflow == "txt2img" && trace.arrivals.last?.requestClass == .batch)
        #expect(trace.arrivals.allSatisfy { $0.at >= 0 && $0.at <= elapsed && ($0.serviceSeconds ?? -1) >= 0 }, "\(trace.arrivals)")
        #expect(trace.arrivals.first?.client == "socket")

        // It replays: every policy ends every arrival, and the simulator prints the comparison.
        for result in Simulation.compare(trace, kinds: PolicyKind.allCases, card: CardSettings(cardBytes: 16 << 30)) {
            #expect(result.served + result.failed == 4 && result.contradictions == 0, "\(result.policy)")
        }
        let sim = try await ChildProcess.run("gpuctl-sim", [file, "--plots", directory.path])
        #expect(sim.status == 0 && sim.stdout.contains("my-day: 4 arrivals") && sim.stdout.contains("belady"), "\(sim.stdout)\(sim.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory.file("my-day.svg")))
        try await bed.stop()
    }
}
