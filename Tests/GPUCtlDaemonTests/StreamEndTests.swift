import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import ProcessSpawn
import Testing

/// Commands that follow a terminal or a stream end when it goes away: never a busy loop,
/// never an orphan. And the daemon's nvidia-smi path works whatever it holds open.
@Suite(.timeLimit(.minutes(1))) struct StreamEndTests {
    /// Closing the window of `gpuctl top` (the master side of its terminal) hangs it up: it
    /// ends, using next to no CPU on the way (it used to spin at 95% for as long as it was left).
    @Test func topEndsWhenItsTerminalWindowCloses() async throws {
        let bed = try await BackendTestBed.start()
        let top = try PseudoTerminal("gpuctl", ["top", "--socket", bed.daemon.socketPath])
        #expect(await eventually { top.output.contains("MODELS") })
        let before = try #require(top.cpuSeconds)
        await top.hangUp()
        let status = await top.waitForExit(within: .seconds(15))
        #expect(status != nil, "top kept running after its terminal closed")
        let after = try #require(top.cpuSeconds)
        #expect(after - before < 1.0, "top used \(after - before) s of CPU after the hang-up")
        try await bed.stop()
    }

    /// `gpuctl events` on a terminal that closes ends with the hang-up.
    @Test func eventsEndsWhenItsTerminalCloses() async throws {
        let bed = try await BackendTestBed.start()
        let events = try PseudoTerminal("gpuctl", ["events", "--socket", bed.daemon.socketPath])
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        await events.hangUp()
        #expect(await events.waitForExit(within: .seconds(15)) != nil, "events kept running after its terminal closed")
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 0 })
        try await bed.stop()
    }

    /// `gpuctl events | head -1`: once nobody reads its output, the next event ends it.
    @Test func eventsEndsWhenItsOutputIsClosed() async throws {
        let bed = try await BackendTestBed.start()
        let pipe = try #require(CloseOnExecPipe())
        var spec = ChildSpec(ChildProcess.productsDirectory.appendingPathComponent("gpuctl").path,
                             ["events", "--socket", bed.daemon.socketPath],
                             environment: ChildProcess.environment(adding: [:]))
        spec.output = .descriptor(pipe.write)
        spec.error = .discard
        spec.group = .lifeline
        let events = try Child.spawn(spec)
        close(pipe.write)
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        close(pipe.read)
        _ = try await bed.call(.modelsSwap, ["model": "small"], as: ModelChangeResult.self)
        let status = await events.wait(within: .seconds(15))
        #expect(status == ExitStatus(signal: SIGPIPE), "\(String(describing: status))")
        try await bed.stop()
    }

    /// The GPU probe's nvidia-smi path while the daemon's process holds over 1,100 open
    /// descriptors (as with hundreds of clients): every sample is read, the child sees only its
    /// own three descriptors, and the daemon keeps answering.
    @Test func nvidiaSMIIsReadWhileTheDaemonHoldsOver1100Descriptors() async throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let wanted: rlim_t = 4096
        if limit.rlim_cur < wanted {
            limit.rlim_cur = min(wanted, limit.rlim_max)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        try #require(limit.rlim_cur >= 1400, "RLIMIT_NOFILE cannot be raised above \(limit.rlim_cur) here")
        let held = (0..<1100).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }
        defer { held.filter { $0 >= 0 }.forEach { close($0) } }
        #expect(held.allSatisfy { $0 >= 0 } && (held.max() ?? 0) > 1100)

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let script = directory.file("nvidia-smi")
        let seen = directory.file("descriptors")
        try await """
            #!/bin/sh
            ls /proc/$$/fd > "\(seen).$$" && mv "\(seen).$$" "\(seen)"
            case "$1" in
              --query-gpu=*) echo "0, GPU-aaaa, NVIDIA GeForce RTX 3090, 24576, 6144, 18432" ;;
              --query-compute-apps=*) echo "GPU-aaaa, \(FakeNvidiaSMI.impossiblePID()), /usr/bin/someone-else, 2048" ;;
            esac
            """.writeExecutable(to: script)
        let daemon = try await TestDaemon.start { configuration in
            configuration.useNvidiaSMI = true
            configuration.nvidiaSMIPath = script
            configuration.declaredVRAM = nil
            configuration.gpuSampleInterval = .milliseconds(20)
        }
        for _ in 0..<25 {
            let status = try await blocking { try daemon.client().call(.status, as: StatusResult.self) }
            #expect(status.gpu.source == .nvidiaSMI && status.gpu.name == "NVIDIA GeForce RTX 3090")
            #expect(status.gpu.lastError == nil, "\(status.gpu.lastError ?? "")")
            try await Task.sleep(for: .milliseconds(20))
        }
        try await daemon.stop()
        // The shell that ran as nvidia-smi had its standard three and the script it reads.
        let descriptors = ((try? String(contentsOfFile: seen, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) }
        #expect(!descriptors.isEmpty && descriptors.allSatisfy { $0 < 20 }, "\(descriptors)")
    }

    /// A child started through the lifeline dies with the process that started it, even when
    /// that one is killed with SIGKILL and can clean nothing up.
    @Test func childrenDieWithTheProcessThatStartedThem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pidFile = directory.file("pid")
        let parent = try ChildProcess("gpuctl-bench", ["lifeline", "--pid-file", pidFile, "sleep", "600"])
        #expect(await eventually { Self.pid(in: pidFile) != nil })
        let pid = try #require(Self.pid(in: pidFile))
        #expect(Self.isRunning(pid))
        parent.signal(SIGKILL)
        #expect(await parent.waitForExit() == 128 + SIGKILL)
        #expect(await eventually(within: .seconds(15)) { !Self.isRunning(pid) }, "sleep \(pid) outlived its parent")
    }

    static func pid(in file: String) -> pid_t? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Alive and not a zombie waiting for a reaper.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: end)...].hasPrefix(" Z")
    }
}
