import Foundation
import GPUCtlCommands
import GPUCtlModels
import Testing

@Suite(.timeLimit(.minutes(3))) struct CLITests {
    static let status = StatusResult(
        daemon: DaemonStatus(version: "0.1.0", pid: 42, uptimeSeconds: 3725, socket: "/run/gpuctl/gpuctld.sock", stateDir: "/var/lib/gpuctl"),
        gpu: GPUStatus(name: "NVIDIA GeForce RTX 4090", total: .gibibytes(24), used: .gibibytes(6), free: .gibibytes(18),
                       source: .nvml, processes: [GPUProcessStatus(pid: 7, name: "/usr/bin/Xorg", used: .mebibytes(512), owner: "foreign")]),
        budget: BudgetStatus(total: .gibibytes(24), reserve: .mebibytes(512), foreign: .mebibytes(512), budget: .gibibytes(23)),
        backends: BackendsStatus(
            ollama: BackendStatus(url: "http://127.0.0.1:11434", state: .up, version: "0.33.0", latencyMs: 1.2),
            comfyui: BackendStatus(url: "http://127.0.0.1:8188", state: .down, lastError: "ComfyUI is unreachable (Connection refused)")),
        catalog: CatalogSummary(path: "/etc/gpuctl/models.json", models: 7, ollama: 5, comfyui: 2, pinned: 1, declaredVRAM: .gibibytes(38)),
        jobs: JobCounts(queued: 2, running: 1))

    @Test func statusTable() {
        let text = StatusRenderer.render(Self.status, color: false, barWidth: 24)
        #expect(text == """
            gpuctld 0.1.0  up 1h 2m  pid 42  socket /run/gpuctl/gpuctld.sock

            GPU     NVIDIA GeForce RTX 4090 (nvml)
            VRAM    [██████░░░░░░░░░░░░░░░░░░]  6 GiB used of 24 GiB (18 GiB free)
            Budget  23 GiB = 24 GiB total − 512 MiB reserve − 512 MiB foreign
                    foreign: pid 7 /usr/bin/Xorg 512 MiB

            BACKEND  STATE  VERSION  LATENCY  URL                     NOTE
            ollama   up     0.33.0   1.2 ms   http://127.0.0.1:11434
            comfyui  down   -        -        http://127.0.0.1:8188   ComfyUI is unreachable (Connection refused)

            Catalog 7 models (5 ollama, 2 comfyui, 1 pinned) from /etc/gpuctl/models.json
            Jobs    2 queued, 1 running, 0 succeeded, 0 failed, 0 cancelled
            """)
    }

    @Test func colourOnlyWhenAsked() {
        #expect(!StatusRenderer.render(Self.status, color: false).contains("\u{1B}["))
        #expect(StatusRenderer.render(Self.status, color: true).contains("\u{1B}[32mup\u{1B}[0m"))
    }

    @Test func globalOptionsBeforeTheSubcommandMoveAfterIt() {
        #expect(GlobalArguments.reorder(["--socket", "/s", "status", "--json"]) == ["status", "--socket", "/s", "--json"])
        #expect(GlobalArguments.reorder(["--json", "--socket=/s", "ping"]) == ["ping", "--json", "--socket=/s"])
        #expect(GlobalArguments.reorder(["status", "--socket", "/s"]) == ["status", "--socket", "/s"])
        #expect(GlobalArguments.reorder(["--socket", "/s"]) == ["--socket", "/s"])
        #expect(GlobalArguments.reorder(["--help"]) == ["--help"])
        // After a subcommand's own subcommand, where its options are read.
        #expect(GlobalArguments.reorder(["--socket", "/s", "collections", "delete", "notes"]) == ["collections", "delete", "--socket", "/s", "notes"])
        #expect(GlobalArguments.reorder(["--json", "trace", "record", "f"]) == ["trace", "record", "--json", "f"])
        #expect(GlobalArguments.reorder(["--json", "search", "collections", "x"]) == ["search", "--json", "collections", "x"])
    }
}

@Suite(.timeLimit(.minutes(3))) struct ModelsRendererTests {
    @Test func expiryReadsOllamasTimestamps() {
        let now = ISO8601DateFormatter().date(from: "2026-11-21T12:00:00Z")!
        #expect(ModelsRenderer.expiry("2026-11-21T05:29:30.123456789-07:00", state: "loaded", now: now) == "in 29m")
        #expect(ModelsRenderer.expiry("2026-11-21T13:30:00Z", state: "loaded", now: now) == "in 1h30m")
        #expect(ModelsRenderer.expiry("2318-09-01T00:00:00Z", state: "loaded", now: now) == "forever")
        #expect(ModelsRenderer.expiry("2026-11-21T11:59:00Z", state: "loaded", now: now) == "stopping")
        #expect(ModelsRenderer.expiry(nil, state: "absent", now: now) == "-")
    }
}
