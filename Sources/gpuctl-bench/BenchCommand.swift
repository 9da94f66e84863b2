import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport
import NIOPosix
import ProcessSpawn

/// `gpuctl-bench`: measures gpuctld's socket against a raw echo baseline in the same run,
/// the CLI as a process, and the idle daemon; writes BENCHMARKS.md.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpuctl-bench",
        abstract: "Measure gpuctld and write BENCHMARKS.md.",
        subcommands: [Run.self, Ollama.self, Jobs.self, Door.self, Soak.self, SimBench.self, CollectionsBench.self, PipelinesBench.self, FakeOllamaServer.self, FakeBackends.self, Echo.self, Idle.self,
                      LifelineCheck.self],
        defaultSubcommand: Run.self)

    struct Echo: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "echo-server", abstract: "Serve the raw echo baseline.")
        @Option var socket: String
        func run() throws { try EchoServer.run(socketPath: socket) }
    }

    /// The idle baseline: a process of this binary (Swift runtime, Foundation, SwiftNIO linked)
    /// that starts NIO's event loops and then does nothing.
    struct Idle: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "idle-baseline", abstract: "Sit idle, for the RSS baseline.")
        func run() throws {
            _ = MultiThreadedEventLoopGroup.singleton.next()
            _ = Date().timeIntervalSince1970
            while true { sleep(1000) }
        }
    }

    /// The test fake Ollama as a standalone server, to try gpuctld and the CLI without Ollama.
    struct FakeOllamaServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fake-ollama", abstract: "Serve the test suite's fake Ollama on 127.0.0.1 until interrupted.")
        @Option(help: "The virtual card's size in GiB.") var vramGiB: UInt64 = 24
        @Option(help: "Milliseconds between streamed tokens.") var tokenDelayMs = 20
        func run() async throws {
            let fake = FakeOllama(gpu: VirtualGPU(totalBytes: vramGiB << 30))
            fake.configure { $0.tokenDelay = .milliseconds(tokenDelayMs); $0.loadTime = .milliseconds(500) }
            try await fake.start()
            FileHandle.standardOutput.write(Data("fake Ollama at \(fake.baseURL) with \(FakeOllama.defaultModels.map(\.name).joined(separator: ", "))\n".utf8))
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    /// Both fakes on one virtual card, for trying gpuctld (top, events, the contrib clients) by hand.
    struct FakeBackends: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fake-backends",
            abstract: "Serve the test suite's fake Ollama, fake ComfyUI and fake TTS server on one virtual card until interrupted.")
        @Option(help: "The virtual card's size in GiB.") var vramGiB: UInt64 = 24
        @Option(help: "Milliseconds between streamed tokens.") var tokenDelayMs = 20
        @Option(help: "Milliseconds per ComfyUI sampler step.") var stepDelayMs = 50
        func run() async throws {
            let gpu = VirtualGPU(totalBytes: vramGiB << 30)
            let ollama = FakeOllama(gpu: gpu)
            ollama.configure { $0.tokenDelay = .milliseconds(tokenDelayMs); $0.loadTime = .milliseconds(500) }
            try await ollama.start()
            let comfyui = FakeComfyUI(gpu: gpu)
            comfyui.configure { $0.stepDelay = .milliseconds(stepDelayMs) }
            try await comfyui.start()
            let speech = FakeSpeech(gpu: gpu)
            try await speech.start()
            FileHandle.standardOutput.write(Data("GPUCTL_OLLAMA_URL=\(ollama.baseURL)\nGPUCTL_COMFYUI_URL=\(comfyui.baseURL)\nGPUCTL_TTS_URL=\(speech.baseURL)\n".utf8))
            while true { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    /// Only the Ollama benchmarks, printed (for working on them).
    struct Ollama: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ollama", abstract: "Run only the Ollama benchmarks and print them.")
        func run() async throws {
            let workspace = try BenchWorkspace(prefix: "gpuctl-bench")
            defer { workspace.remove() }
            let (products, directory) = (workspace.products, workspace.directory)
            let numbers = try await OllamaBench.run(products: products, directory: directory) {
                FileHandle.standardError.write(Data("gpuctl-bench: \($0)\n".utf8))
            }
            print(Report.ollamaSection(numbers))
        }
    }

    /// The Ollama door's numbers, written into BENCHMARKS.md in place of the last ones.
    struct Door: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "door", abstract: "Run the Ollama door benchmarks and write their section of BENCHMARKS.md.")
        @Option(help: "The report to update.") var output = "BENCHMARKS.md"

        func run() async throws {
            let workspace = try BenchWorkspace(prefix: "gpuctl-bench")
            defer { workspace.remove() }
            let (products, directory) = (workspace.products, workspace.directory)
            let numbers = try await DoorBench.run(products: products, directory: directory) {
                FileHandle.standardError.write(Data("gpuctl-bench: \($0)\n".utf8))
            }
            let section = Report.doorSection(numbers)
            let existing = (try? String(contentsOfFile: output, encoding: .utf8)) ?? "# Benchmarks\n"
            try Report.replacingSection(Report.doorTitle, with: section, in: existing).write(toFile: output, atomically: true, encoding: .utf8)
            print(section)
        }
    }

    /// The soak: mixed work with faults for a long time; writes its section of BENCHMARKS.md.
    struct Soak: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "soak", abstract: "Run the mixed workload with faults against gpuctld for a long time and write its section of BENCHMARKS.md.")
        @Option(help: "Minutes to run.") var minutes = 60
        @Option(help: "Clients sending work at once.") var clients = 4
        @Option(help: "Seed of every random choice.") var seed: UInt64 = 1
        @Option(help: "The report to update.") var output = "BENCHMARKS.md"

        func run() async throws {
            let workspace = try BenchWorkspace(prefix: "gpuctl-soak")
            defer { workspace.remove() }
            let (products, directory) = (workspace.products, workspace.directory)
            var settings = SoakBench.Settings()
            settings.duration = .seconds(minutes * 60)
            settings.clients = clients
            settings.seed = seed
            let numbers = try await SoakBench.run(products: products, directory: directory, settings: settings) {
                FileHandle.standardError.write(Data("gpuctl-bench: \($0)\n".utf8))
            }
            let command = "swift build -c release && .build/release/gpuctl-bench soak --minutes \(minutes) --clients \(clients) --seed \(seed)"
            let section = Report.soakSection(numbers, command: command)
            let existing = (try? String(contentsOfFile: output, encoding: .utf8)) ?? "# Benchmarks\n"
            try Report.replacingSection(Report.soakTitle, with: section, in: existing).write(toFile: output, atomically: true, encoding: .utf8)
            print(section)
        }
    }

    struct Jobs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "jobs", abstract: "Run only the ComfyUI job benchmarks and print them.")
        func run() async throws {
            let workspace = try BenchWorkspace(prefix: "gpuctl-bench")
            defer { workspace.remove() }
            let (products, directory) = (workspace.products, workspace.directory)
            let numbers = try await JobsBench.run(products: products, directory: directory) {
                FileHandle.standardError.write(Data("gpuctl-bench: \($0)\n".utf8))
            }
            print(Report.jobsSection(numbers))
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Run every benchmark.")

        @Option(help: "Round trips measured per latency run.") var count = 20_000
        @Option(help: "Seconds per throughput run.") var seconds = 3.0
        @Option(help: "Seconds of idle measurement.") var idleSeconds = 60.0
        @Option(help: "Runs of `gpuctl status` as a process.") var cliRuns = 50
        @Option(help: "Where to write the report.") var output = "BENCHMARKS.md"

        func run() async throws {
            let workspace = try BenchWorkspace(prefix: "gpuctl-bench")
            defer { workspace.remove() }
            let (products, directory) = (workspace.products, workspace.directory)
            var report = try measureSocketAndIdle(products: products, directory: directory)
            report.ollama = try await OllamaBench.run(products: products, directory: directory, log: log)
            report.jobs = try await JobsBench.run(products: products, directory: directory, log: log)
            let markdown = report.markdown(command: "swift build -c release && .build/release/gpuctl-bench")
            try markdown.write(toFile: output, atomically: true, encoding: .utf8)
            print(markdown)
        }

        /// Issue 2's numbers: the socket against the echo baseline, the CLI, start/stop, idle.
        func measureSocketAndIdle(products: URL, directory: String) throws -> Report {
            var report = Report()

            log("lifecycle: 10 starts (spawn until ping answers) and SIGTERM stops")
            var ready: [Double] = [], stop: [Double] = []
            for run in 0..<10 {
                let socket = "\(directory)/life\(run).sock"
                let start = ContinuousClock.now
                let daemon = try BenchProcess.startDaemon(products: products, socket: socket, state: "\(directory)/life\(run)")
                try BenchProcess.waitForPing(socket)
                ready.append(Clock.microseconds(since: start))
                let stopping = ContinuousClock.now
                let status = daemon.stop()
                stop.append(Clock.microseconds(since: stopping))
                guard status == ExitStatus(code: 0), !FileManager.default.fileExists(atPath: socket) else {
                    throw RPCClientError.protocolError("gpuctld did not stop cleanly (\(status))")
                }
            }
            report.ready = LatencySummary(ready)
            report.stop = LatencySummary(stop)

            let echoSocket = "\(directory)/echo.sock"
            let echo = try BenchProcess.start(products.appendingPathComponent("gpuctl-bench").path, ["echo-server", "--socket", echoSocket])
            defer { echo.stop() }
            let daemonSocket = "\(directory)/gpuctld.sock"
            let daemon = try BenchProcess.startDaemon(products: products, socket: daemonSocket, state: "\(directory)/state")
            defer { daemon.stop() }
            try BenchProcess.waitForSocket(echoSocket)
            try BenchProcess.waitForSocket(daemonSocket)

            log("latency: \(count) sequential round trips each")
            report.echoLatency = LatencySummary(try RoundTrips.latencies(socket: echoSocket, warmup: 2000, count: count))
            report.pingLatency = LatencySummary(try RoundTrips.latencies(socket: daemonSocket, warmup: 2000, count: count))
            log("throughput: \(seconds) s each, 1 and 64 connections")
            report.throughputSeconds = seconds
            report.echoThroughput1 = try RoundTrips.throughput(socket: echoSocket, connections: 1, seconds: seconds)
            report.pingThroughput1 = try RoundTrips.throughput(socket: daemonSocket, connections: 1, seconds: seconds)
            report.echoThroughput64 = try PolledClients.throughput(socket: echoSocket, connections: 64, seconds: seconds)
            report.pingThroughput64 = try PolledClients.throughput(socket: daemonSocket, connections: 64, seconds: seconds)
            report.echoThroughput64Threads = try RoundTrips.throughput(socket: echoSocket, connections: 64, seconds: seconds)
            report.pingThroughput64Threads = try RoundTrips.throughput(socket: daemonSocket, connections: 64, seconds: seconds)
            report.rssAfterLoadKiB = ProcessStats.residentKiB(pid: daemon.pid)

            log("gpuctl status as a process: \(cliRuns) runs, and /bin/true as the spawn baseline")
            let gpuctl = products.appendingPathComponent("gpuctl").path
            report.cliStatus = LatencySummary(try (0..<cliRuns).map { _ in
                try BenchProcess.timeRun(gpuctl, ["--socket", daemonSocket, "status"])
            })
            report.trueSpawn = LatencySummary(try (0..<cliRuns).map { _ in try BenchProcess.timeRun("/bin/true", []) })
            daemon.stop()

            log("idle: a fresh daemon for \(idleSeconds) s")
            let idleSocket = "\(directory)/idle.sock"
            let idle = try BenchProcess.startDaemon(products: products, socket: idleSocket, state: "\(directory)/idle-state")
            defer { idle.stop() }
            try BenchProcess.waitForSocket(idleSocket)
            Thread.sleep(forTimeInterval: 2)
            let ticksBefore = ProcessStats.cpuTicks(pid: idle.pid) ?? 0
            var peakKiB = 0
            let start = Date()
            while Date().timeIntervalSince(start) < idleSeconds {
                Thread.sleep(forTimeInterval: min(1, idleSeconds))
                peakKiB = max(peakKiB, ProcessStats.residentKiB(pid: idle.pid) ?? 0)
            }
            let ticks = (ProcessStats.cpuTicks(pid: idle.pid) ?? 0) - ticksBefore
            report.idleCPUPercent = Double(ticks) / ProcessStats.ticksPerSecond / Date().timeIntervalSince(start) * 100
            report.idleRSSKiB = peakKiB
            report.idleSeconds = idleSeconds
            report.idleAnonymousKiB = ProcessStats.anonymousKiB(pid: idle.pid)
            let baseline = try BenchProcess.start(products.appendingPathComponent("gpuctl-bench").path, ["idle-baseline"])
            defer { baseline.stop() }
            Thread.sleep(forTimeInterval: 2)
            report.baselineRSSKiB = ProcessStats.residentKiB(pid: baseline.pid)
            report.baselineAnonymousKiB = ProcessStats.anonymousKiB(pid: baseline.pid)

            return report
        }

        func log(_ text: String) {
            FileHandle.standardError.write(Data("gpuctl-bench: \(text)\n".utf8))
        }
    }
}

/// Where a benchmark finds the binaries built beside it, and a scratch folder of its own,
/// removed when it is done.
struct BenchWorkspace {
    let products: URL
    let directory: String

    init(prefix: String) throws {
        products = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        directory = NSTemporaryDirectory() + "\(prefix)-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}
