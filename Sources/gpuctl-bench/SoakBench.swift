import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestSupport

/// The soak (issue 15): a release gpuctld against both fakes on one 24 GiB virtual card, under
/// the fault matrix's mixed workload from several clients for a long time, with one fault at a
/// time injected and healed (FaultInjector). Every `sampleEvery` it reads the daemon's RSS,
/// threads and open descriptors from /proc and the store's size on disk; every item's latency
/// and outcome is kept with its time. Errors are split into those that fall in a fault's window
/// (while it lasts and `grace` after) and those that do not: the second count must be 0.
enum SoakBench {
    struct Settings {
        var duration: Duration = .seconds(3600)
        var clients = 4
        var faultEvery: Duration = .seconds(30)
        var faultLasts: Duration = .seconds(10)
        var grace: Duration = .seconds(15)
        var sampleEvery: Duration = .seconds(10)
        var seed: UInt64 = 1
        /// Finished jobs the daemon keeps: low, so the store reaches its steady size early.
        var keepJobs = 2000
        /// Pause between two items of one client, at random up to this (a person's pace, not a flood).
        var thinkTimeMs = 200
    }

    struct Sample {
        var at: Double
        var rssKiB: Int
        var threads: Int
        var descriptors: Int
        var storeBytes: Int
    }

    struct Item {
        var at: Double
        var item: WorkItem
        var seconds: Double
        var error: String?
    }

    struct Numbers {
        var settings: Settings
        var samples: [Sample] = []
        var items: [Item] = []
        var faults: [(at: Double, fault: InjectedFault)] = []
        /// Errors outside every fault's window: what the soak must not see.
        var unexplained: [Item] = []
    }

    static func run(products: URL, directory: String, settings: Settings, log: @escaping @Sendable (String) -> Void) async throws -> Numbers {
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let ollama = FakeOllama(gpu: gpu)
        ollama.configure { $0.tokenDelay = .milliseconds(5); $0.loadTime = .milliseconds(200) }
        try await ollama.start()
        let comfyui = FakeComfyUI(gpu: gpu)
        comfyui.configure { $0.stepDelay = .milliseconds(20) }
        try await comfyui.start()
        let faults = FaultInjector(ollama: ollama, comfyui: comfyui, gpu: gpu, slowFirstByte: .seconds(4))
        let socket = "\(directory)/soak.sock", state = "\(directory)/state"
        let catalog = "\(directory)/models.json"
        try Data(WorkItem.catalog.utf8).write(to: URL(fileURLWithPath: catalog))
        let workflows = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Workflows").path
        let daemon = try BenchProcess.start(products.appendingPathComponent("gpuctld").path, [
            "--socket", socket, "--state-dir", state, "--vram", "24GiB", "--ollama-url", ollama.baseURL,
            "--comfyui-url", comfyui.baseURL, "--config", catalog, "--workflows", workflows,
            "--output-dir", "\(directory)/outputs", "--load-timeout", "3s", "--free-timeout", "5s", "--keep-jobs", "\(settings.keepJobs)", "--log-level", "error",
        ])
        defer { daemon.child.signal(SIGKILL) }
        let pid = daemon.pid
        try BenchProcess.waitForPing(socket)
        let started = ContinuousClock.now
        let end = started + settings.duration
        func now() -> Double { inSeconds(ContinuousClock.now - started) }
        let record = LockedBox<Numbers>(Numbers(settings: settings))

        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<settings.clients {
                group.addTask {
                    var random = SeededRandom(seed: settings.seed &+ UInt64(client))
                    var count = 0
                    while ContinuousClock.now < end {
                        let item = WorkItem.allCases[random.below(WorkItem.allCases.count)]
                        let at = now()
                        let begun = ContinuousClock.now
                        var outcome = await item.send(to: socket, tag: "c\(client)n\(count)", timeout: .seconds(60))
                        // A job counts until it ends: its latency is submission to final state.
                        if case .job(let id, _) = outcome {
                            outcome = await Self.waitForJob(id, socket: socket)
                        }
                        let seconds = inSeconds(ContinuousClock.now - begun)
                        let error: String? = if case .failed(let kind, let message) = outcome { "\(kind): \(message)" } else { nil }
                        record.mutate { $0.items.append(Item(at: at, item: item, seconds: seconds, error: error)) }
                        count += 1
                        try await Task.sleep(for: .milliseconds(random.below(settings.thinkTimeMs + 1)))
                    }
                }
            }
            group.addTask {
                var random = SeededRandom(seed: settings.seed &* 31)
                try await Task.sleep(for: settings.faultEvery)
                while ContinuousClock.now + settings.faultLasts < end {
                    let fault = InjectedFault.allCases[random.below(InjectedFault.allCases.count)]
                    record.mutate { $0.faults.append((now(), fault)) }
                    log("\(Int(now())) s: \(fault.rawValue)")
                    try await faults.inject(fault)
                    try await Task.sleep(for: settings.faultLasts)
                    try await faults.heal()
                    try await Task.sleep(for: settings.faultEvery - settings.faultLasts)
                }
            }
            group.addTask {
                while ContinuousClock.now < end {
                    if let sample = Self.sample(pid: pid, state: state, at: now()) {
                        record.mutate { $0.samples.append(sample) }
                        log("\(Int(sample.at)) s: RSS \(sample.rssKiB / 1024) MiB, \(sample.threads) threads, \(sample.descriptors) fds, store \(sample.storeBytes / 1024) KiB, \(record.value.items.count) items")
                    }
                    try await Task.sleep(for: settings.sampleEvery)
                }
            }
            try await group.waitForAll()
        }
        try await faults.heal()
        await ollama.stop()
        await comfyui.stop()
        var numbers = record.value
        let windows = numbers.faults.map { ($0.at, $0.at + inSeconds(settings.faultLasts + settings.grace)) }
        numbers.unexplained = numbers.items.filter { item in
            // An item that ran across a fault window's start or inside one is explained by it.
            item.error != nil && !windows.contains { item.at <= $0.1 && item.at + item.seconds >= $0.0 }
        }
        return numbers
    }

    /// Follows a job until it ends: served when it succeeded, else the reason.
    static func waitForJob(_ id: String, socket: String) async -> WorkOutcome {
        do {
            let job = try await blocking {
                try RPCClient(socketPath: socket, timeout: .seconds(600)).call(.jobsWait, params: ["id": .string(id)], as: JobInfo.self)
            }
            return job.state == "succeeded" ? .served(after: .zero) : .failed(kind: "job \(job.state)", message: job.error ?? "")
        } catch {
            return .failed(kind: "jobs.wait", message: "\(error)")
        }
    }

    /// The daemon's RSS, threads and descriptors from /proc, and the store's bytes on disk.
    static func sample(pid: Int32, state: String, at: Double) -> Sample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        let store = ((try? FileManager.default.contentsOfDirectory(atPath: state)) ?? []).reduce(0) { total, name in
            total + (((try? FileManager.default.attributesOfItem(atPath: "\(state)/\(name)"))?[.size] as? Int) ?? 0)
        }
        return Sample(at: at, rssKiB: field("VmRSS:"), threads: field("Threads:"), descriptors: descriptors, storeBytes: store)
    }
}

private func inSeconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
