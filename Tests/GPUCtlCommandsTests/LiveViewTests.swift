import Foundation
import GPUCtlCommands
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// `gpuctl top`, `gpuctl events` and `gpuctl metrics`, run as a user runs them.
@Suite(.timeLimit(.minutes(3))) struct LiveViewTests {
    /// Escape sequences removed, the screen's lines as drawn (each frame starts at ESC[H).
    static func frames(_ output: String) -> [[String]] {
        let plain = output.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "\u{1}", options: .regularExpression)
        // The terminal turns each "\n" into "\r\n", so a line ends in "\r\r\n".
        return plain.components(separatedBy: "\u{1}\u{1}").map { frame in
            frame.replacingOccurrences(of: "\u{1}", with: "").replacingOccurrences(of: "\r", with: "").components(separatedBy: "\n")
        }
    }

    static func cardWidths(_ output: String) -> [Int] {
        frames(output).flatMap { $0 }.filter { $0.hasPrefix("Card  [") && $0.hasSuffix("]") }.map(\.count)
    }

    /// The done-means of issue 5: top shows a job's progress live, follows a resize, and
    /// gives the terminal back as it found it.
    @Test func topShowsAJobsProgressLiveFollowsResizeAndRestoresTheTerminal() async throws {
        let bed = try await BackendTestBed.start(catalog: BackendTestBed.jobsCatalog)
        bed.comfyui.configure { $0.stepDelay = .milliseconds(20) }
        let top = try PseudoTerminal("gpuctl", ["top", "--socket", bed.daemon.socketPath], environment: ["NO_COLOR": "1"],
                                     columns: 100, rows: 30)
        #expect(await eventually { top.output.contains("QUEUE") })
        #expect(!top.isInNormalMode, "top should read keys one at a time")
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 150]],
                                     as: JobInfo.self)
        let short = String(job.id.prefix(8))
        // Two different step counts for the job on screen: the bar moved while it ran.
        #expect(await eventually(within: .seconds(20)) {
            let lines: [String] = Self.frames(top.output).flatMap { $0 }.filter { $0.hasPrefix(short) && $0.contains("/150") }
            var steps = Set<String>()
            for line in lines {
                if let range = line.range(of: #"\d+/150"#, options: .regularExpression) { steps.insert(String(line[range])) }
            }
            return steps.count >= 2
        }, "\(top.output.suffix(2000))")
        #expect(top.output.contains("KSampler"))
        #expect(Self.cardWidths(top.output).last == 100)
        top.resize(columns: 64, rows: 20)
        #expect(await eventually { Self.cardWidths(top.output).last == 64 }, "\(Self.cardWidths(top.output))")
        #expect(Self.frames(top.output).last?.allSatisfy { $0.count <= 64 } == true)
        top.type("q")
        #expect(await top.waitForExit() == 0)
        #expect(top.output.hasSuffix("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l"), "\(top.output.suffix(40).debugDescription)")
        #expect(top.isInNormalMode)
        #expect(!top.output.contains("\u{1B}[3"), "NO_COLOR was set")
        // Clean-up only: on a loaded machine the job may already have finished.
        _ = try? await bed.call(.jobsCancel, ["id": .string(job.id)], as: JobInfo.self)
        try await bed.stop()
    }

    @Test func topRestoresTheTerminalOnCtrlCAndSaysWhenTheDaemonIsAway() async throws {
        let bed = try await BackendTestBed.start()
        let top = try PseudoTerminal("gpuctl", ["top", "--socket", bed.daemon.socketPath])
        #expect(await eventually { top.output.contains("MODELS") })
        try await bed.stop()
        #expect(await eventually { top.output.contains("! reconnecting") }, "\(top.output.suffix(1500))")
        top.signal(SIGINT)
        #expect(await top.waitForExit() == 0)
        #expect(top.isInNormalMode)
        #expect(top.output.hasSuffix("\u{1B}[?1049l"))
    }

    @Test func topRefusesToStartWithoutADaemonAndLeavesTheScreenAlone() async throws {
        let directory = try TemporaryDirectory()
        let top = try PseudoTerminal("gpuctl", ["top", "--socket", directory.file("none.sock")])
        #expect(await top.waitForExit() == 69)
        #expect(top.output.contains("gpuctld is not running") && !top.output.contains("\u{1B}[?1049h"))
        directory.remove()
    }

    @Test func eventsPrintsTheStreamAsLinesOrJSON() async throws {
        let bed = try await BackendTestBed.start()
        let socket = bed.daemon.socketPath
        let json = try ChildProcess("gpuctl", ["events", "--json", "--socket", socket, "--type", "model"])
        let text = try ChildProcess("gpuctl", ["events", "--socket", socket])
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 2 })
        _ = try await bed.call(.modelsSwap, ["model": "small"], as: ModelChangeResult.self)
        try await Task.sleep(for: .milliseconds(300))
        json.signal(SIGINT)
        text.signal(SIGINT)
        #expect(await json.waitForExit() == 130)
        #expect(await text.waitForExit() == 130)
        // Off the cooperative pool: reading a pipe to its end blocks.
        let jsonOutput = try await blocking { json.output }
        let printed = try await blocking { text.output }
        let lines = jsonOutput.split(separator: "\n").compactMap { try? JSONDecoder().decode(DaemonEvent.self, from: Data($0.utf8)) }
        #expect(lines.first?.type == .subscribed)
        #expect(lines.contains { $0.type == .modelLoaded && $0.model == "llama3.2:3b" }, "\(jsonOutput)")
        #expect(lines.dropFirst().allSatisfy { $0.type.rawValue.hasPrefix("model.") })
        #expect(printed.contains("model.loaded") && printed.contains("llama3.2:3b"), "\(printed)")
        #expect(printed.split(separator: "\n").allSatisfy { $0.range(of: #"^\d\d:\d\d:\d\d  "#, options: .regularExpression) != nil })
        let bad = try await ChildProcess.run("gpuctl", ["events", "--socket", socket, "--type", "jobs"])
        #expect(bad.status == 1 && bad.stderr.contains("'jobs'") && bad.stderr.contains("job.state"), "\(bad.stderr)")
        try await bed.stop()
    }

    @Test func metricsPrintsThePrometheusText() async throws {
        let bed = try await BackendTestBed.start()
        let run = try await ChildProcess.run("gpuctl", ["metrics", "--socket", bed.daemon.socketPath])
        #expect(run.status == 0)
        #expect(run.stdout.contains("# TYPE gpuctl_vram_total_bytes gauge") && run.stdout.contains("gpuctl_vram_total_bytes 17179869184"), "\(run.stdout.prefix(500))")
        let json = try await ChildProcess.run("gpuctl", ["metrics", "--json", "--socket", bed.daemon.socketPath])
        #expect(try JSONDecoder().decode(MetricsResult.self, from: Data(json.stdout.utf8)).text.contains("gpuctl_backend_up"))
        try await bed.stop()
    }
}
