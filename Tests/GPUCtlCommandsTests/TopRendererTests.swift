import Foundation
import GPUCtlCommands
import GPUCtlModels
import Testing

/// `gpuctl top`'s screen, drawn from plain values.
@Suite(.timeLimit(.minutes(3))) struct TopRendererTests {
    static func gib(_ value: Double) -> ByteSize { ByteSize(bytes: UInt64(value * Double(1 << 30))) }

    static func model(now: Date) -> TopModel {
        var model = TopModel()
        let status = StatusResult(
            daemon: DaemonStatus(version: "0.1.0", pid: 1, uptimeSeconds: 75, socket: "/run/gpuctl/gpuctld.sock", stateDir: "/var/lib/gpuctl"),
            gpu: GPUStatus(name: "NVIDIA RTX 4090", total: gib(24), used: gib(13), free: gib(11), source: .nvml, processes: []),
            budget: BudgetStatus(total: gib(24), reserve: gib(0.5), foreign: gib(1), budget: gib(22.5)),
            backends: BackendsStatus(ollama: BackendStatus(url: "http://127.0.0.1:11434", state: .up, version: "0.33.0"),
                                     comfyui: BackendStatus(url: "http://127.0.0.1:8188", state: .down, lastError: "connection refused",
                                                            held: gib(5))),
            catalog: CatalogSummary(path: nil, models: 2, ollama: 2, comfyui: 0, pinned: 0, declaredVRAM: gib(9)),
            jobs: JobCounts(queued: 1, running: 1))
        func entry(_ name: String, _ vram: Double, expires: Date?) -> ModelEntry {
            ModelEntry(name: name, aliases: [], inCatalog: true, state: "loaded", declaredVRAM: nil, learnedVRAM: nil,
                       footprint: gib(vram), size: nil, sizeVRAM: gib(vram),
                       expiresAt: expires.map { $0.formatted(Date.ISO8601FormatStyle()) }, lastUsed: nil, inFlight: 1,
                       waiting: 2, priority: 50, pinned: false, keepAlive: "5m", fallback: nil)
        }
        let models = ModelsListResult(models: [entry("llama3.1:8b", 6, expires: now.addingTimeInterval(240))],
                                      budget: status.budget, used: gib(11))
        let running = JobInfo(id: "9ae49fdf-0000-4000-8000-000000000001", state: "running", jobClass: "interactive",
                              workflow: "txt2img", promptId: nil, attempts: 1, vram: gib(5), timeoutSeconds: 3600,
                              createdAt: "", updatedAt: "")
        var waiting = running
        waiting.id = "1234abcd-0000-4000-8000-000000000002"
        waiting.state = "queued"
        model.take(status: status, models: models, jobs: [running, waiting])
        return model
    }

    @Test func theScreenShowsTheCardTheModelsTheQueueAndTheEvents() {
        let now = Date()
        var model = Self.model(now: now)
        model.apply(DaemonEvent(.jobProgress, job: "9ae49fdf-0000-4000-8000-000000000001",
                                progress: JobProgress(node: "5", nodeType: "KSampler", value: 7, max: 20, nodesDone: 4, nodesTotal: 7)))
        model.apply(DaemonEvent(.modelLoaded, model: "llama3.1:8b", bytes: Self.gib(6)))
        let lines = TopRenderer.render(model, width: 100, height: 30, now: now)
        let screen = lines.joined(separator: "\n")
        #expect(lines.count <= 30 && lines.allSatisfy { $0.count <= 100 })
        // The card: 24 GiB over 92 cells; the 8B is a quarter, ComfyUI about a fifth.
        let card = try? #require(lines.first { $0.hasPrefix("Card  [") })
        #expect(card?.count == 100)
        let bar = card.map { String($0.dropFirst("Card  [".count).dropLast()) } ?? ""
        #expect(bar.filter { $0 == "1" }.count == 23 && bar.filter { $0 == "c" }.count == 19, "\(bar)")
        #expect(bar.filter { $0 == "f" }.count == 4 && bar.filter { $0 == "r" }.count == 2)
        #expect(screen.contains("1 llama3.1:8b 6 GiB  c comfyui 5 GiB  f foreign 1 GiB  r reserve 512 MiB  · free 11.5 GiB"), "\(screen)")
        #expect(screen.contains("ollama up 0.33.0") && screen.contains("comfyui down: connection refused"))
        #expect(screen.contains("in 3m") || screen.contains("in 4m"))
        // The queue: short ids; the progress event moved the running job's bar before any snapshot.
        #expect(screen.contains("9ae49fdf  running  interactive  txt2img   node 5 KSampler  [#######.............] 7/20  4/7 nodes"), "\(screen)")
        #expect(screen.contains("1234abcd  queued"))
        // The log keeps state changes, not every progress step.
        #expect(screen.contains("model.loaded     llama3.1:8b  6 GiB") && !screen.contains("job.progress"))
    }

    @Test func aSmallWindowGetsWhatFitsAndAProblemIsShownFirst() {
        var model = Self.model(now: Date())
        model.problem = "reconnecting every second: gpuctld is not running"
        for index in 0..<80 { model.apply(DaemonEvent(.jobState, job: "job-\(index)", state: "queued")) }
        let small = TopRenderer.render(model, width: 40, height: 12)
        #expect(small.count == 12 && small.allSatisfy { $0.count <= 40 }, "\(small)")
        #expect(small[1].hasPrefix("! reconnecting"))
        #expect(small.first { $0.hasPrefix("Card  [") }?.count == 40)
        // A tall window shows the newest events, oldest at the top, at most the kept 50.
        let tall = TopRenderer.render(model, width: 120, height: 200)
        let logged = tall.filter { $0.contains("job.state") }
        #expect(logged.count == TopModel.eventLimit && logged.last?.contains("job-79") == true)
    }

    @Test func aSnapshotKeepsProgressAlreadyHeard() {
        var model = Self.model(now: Date())
        let progress = JobProgress(node: "5", value: 3, max: 10)
        model.apply(DaemonEvent(.jobProgress, job: "9ae49fdf-0000-4000-8000-000000000001", progress: progress))
        let again = Self.model(now: Date())
        model.take(status: again.status!, models: again.models!, jobs: again.jobs)
        #expect(model.jobs.first?.progress == progress)
        #expect(TopModel.needsSnapshot(after: DaemonEvent(.jobState, job: "x", state: "running")))
        #expect(!TopModel.needsSnapshot(after: DaemonEvent(.jobProgress, job: "x", progress: progress)))
    }

    @Test func eventLinesSayWhatHappened() {
        let utc = TimeZone(identifier: "UTC")!
        let event = DaemonEvent(.backend, time: Date(timeIntervalSince1970: 3600 * 5 + 61), state: "down", backend: "comfyui",
                                error: "connection refused")
        #expect(EventsRenderer.line(event, timeZone: utc) == "05:01:01  backend          comfyui down: connection refused")
        let job = DaemonEvent(.jobState, time: Date(timeIntervalSince1970: 0), job: "9ae49fdf-0000", state: "failed", error: "boom")
        #expect(EventsRenderer.line(job, timeZone: utc, shortIDs: true) == "00:00:00  job.state        9ae49fdf  failed  boom")
        #expect(event.time == "1970-01-01T05:01:01.000Z")
    }
}
