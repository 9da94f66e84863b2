import Foundation
import GPUCtlModels

/// What `gpuctl doctor` found out, gathered by `DoctorCommand`; judged by `Doctor.checks`.
public struct DoctorFacts: Sendable {
    public var socketPath: String
    /// What is at the socket's path: a socket, something else, nothing.
    public enum SocketFile: Sendable, Equatable { case socket, notASocket, missing }
    public var socketFile: SocketFile
    /// Why connecting failed (nil when it worked).
    public var connectError: String?
    public var permissionDenied = false
    public var status: StatusResult?
    public var daemonVersion: VersionResult?
    public var workflows: WorkflowsListResult?
    public var cliProtocol = GPUCtlVersion.protocolRevision

    public init(socketPath: String, socketFile: SocketFile) {
        self.socketPath = socketPath
        self.socketFile = socketFile
    }
}

/// One finding: what was checked, whether it is fine, and what to do when it is not.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public enum Level: String, Codable, Sendable { case ok, warning, problem }
    public var name: String
    public var level: Level
    public var detail: String
    public var fix: String?

    public init(_ name: String, _ level: Level, _ detail: String, fix: String? = nil) {
        self.name = name
        self.level = level
        self.detail = detail
        self.fix = fix
    }
}

/// The checks, from facts to findings. Pure: every finding is tested on values.
public enum Doctor {
    public static func checks(_ facts: DoctorFacts) -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        let path = facts.socketPath
        switch facts.socketFile {
        case .missing:
            checks.append(DoctorCheck("socket", .problem, "nothing at \(path)",
                                      fix: "start the daemon (systemctl enable --now gpuctld.socket, or gpuctld --socket \(path)), or point --socket / GPUCTL_SOCKET at its socket"))
            return checks
        case .notASocket:
            checks.append(DoctorCheck("socket", .problem, "\(path) exists but is not a socket",
                                      fix: "remove it or pick another path with --socket / GPUCTL_SOCKET"))
            return checks
        case .socket:
            checks.append(DoctorCheck("socket", .ok, path))
        }
        if facts.permissionDenied {
            checks.append(DoctorCheck("permissions", .problem, "you may not use \(path)",
                                      fix: "ask for membership of the daemon's --allow-group (sudo usermod -aG gpuctl \(NSUserName())), then log in again"))
            return checks
        }
        if let error = facts.connectError {
            checks.append(DoctorCheck("daemon", .problem, error, fix: "start gpuctld (systemctl start gpuctld) and check its log (journalctl -u gpuctld)"))
            return checks
        }
        checks.append(DoctorCheck("permissions", .ok, "this user may use the socket"))
        guard let status = facts.status else {
            checks.append(DoctorCheck("daemon", .problem, "the daemon accepted the connection but did not answer status",
                                      fix: "check its log (journalctl -u gpuctld); restart it if it is stuck"))
            return checks
        }
        var daemon = "gpuctld \(status.daemon.version), pid \(status.daemon.pid)"
        if let version = facts.daemonVersion, version.protocol != facts.cliProtocol {
            checks.append(DoctorCheck("daemon", .warning, daemon + ", protocol \(version.protocol) (this CLI speaks \(facts.cliProtocol))",
                                      fix: "install the same gpuctl version as the daemon"))
        } else {
            daemon += ", up \(Int(status.daemon.uptimeSeconds))s"
            checks.append(DoctorCheck("daemon", .ok, daemon))
        }
        checks.append(gpu(status.gpu))
        for (name, backend) in [("ollama", status.backends.ollama), ("comfyui", status.backends.comfyui)]
            + (status.backends.byBackend[.tts].map { [("tts", $0)] } ?? []) {
            checks.append(self.backend(name, backend))
        }
        checks.append(catalog(status.catalog))
        if let workflows = facts.workflows {
            for broken in workflows.broken {
                checks.append(DoctorCheck("workflow \(broken.name)", .warning, broken.problems.joined(separator: "; "),
                                          fix: "fix the template in \(workflows.directory ?? "the workflows folder") and restart gpuctld"))
            }
        }
        return checks
    }

    static func gpu(_ gpu: GPUStatus) -> DoctorCheck {
        if let error = gpu.lastError {
            return DoctorCheck("gpu", .problem, "the last GPU reading failed: \(error)",
                               fix: "check the NVIDIA driver (nvidia-smi) and that gpuctld's user may open /dev/nvidia*")
        }
        if gpu.source == .declared {
            return DoctorCheck("gpu", .warning, "no GPU readable by the daemon; it budgets the declared \(gpu.total)",
                               fix: "install the NVIDIA driver (libnvidia-ml.so.1), and let gpuctld's user open /dev/nvidiactl and /dev/nvidia0 (the unit's DeviceAllow=)")
        }
        return DoctorCheck("gpu", .ok, "\(gpu.name) via \(gpu.source.rawValue), \(gpu.used) used of \(gpu.total)")
    }

    static func backend(_ name: String, _ backend: BackendStatus) -> DoctorCheck {
        if let untrusted = backend.untrusted {
            return DoctorCheck(name, .problem, untrusted,
                               fix: "if you upgraded or restarted \(name) yourself, run 'gpuctl trust \(name)'; if not, find what listens on \(backend.url) (ss -ltnp)")
        }
        switch backend.state {
        case .up:
            return DoctorCheck(name, .ok, "\(backend.url) answers\(backend.version.map { ", version \($0)" } ?? "")")
        case .down:
            let start = name == "ollama" ? "ollama serve (or systemctl start ollama)" : "ComfyUI (python main.py --listen 127.0.0.1)"
            return DoctorCheck(name, .problem, "\(backend.url) does not answer: \(backend.lastError ?? "no detail")",
                               fix: "start \(start), or point gpuctld at it with --\(name == "ollama" ? "ollama" : "comfyui")-url")
        case .unknown:
            return DoctorCheck(name, .warning, "\(backend.url) has not been probed yet", fix: "run gpuctl doctor again in a few seconds")
        }
    }

    static func catalog(_ catalog: CatalogSummary) -> DoctorCheck {
        guard let path = catalog.path else {
            return DoctorCheck("catalog", .warning, "no models.json: models are charged their size on disk until measured",
                               fix: "copy the repository's models.json to /etc/gpuctl/models.json (or pass --config) and list your models")
        }
        if catalog.models == 0 {
            return DoctorCheck("catalog", .warning, "\(path) lists no models", fix: "add your Ollama models and ComfyUI checkpoints to it")
        }
        return DoctorCheck("catalog", .ok, "\(path): \(catalog.ollama) Ollama, \(catalog.comfyui) ComfyUI models")
    }

    /// `✓ socket  /run/gpuctl/gpuctld.sock` lines, the fix under each finding that needs one.
    public static func render(_ checks: [DoctorCheck], color: Bool = false) -> String {
        let paint = Painter(enabled: color)
        let width = (checks.map(\.name.count).max() ?? 0) + 2
        var lines: [String] = []
        for check in checks {
            let mark = switch check.level {
            case .ok: paint.green("✓")
            case .warning: paint.yellow("!")
            case .problem: paint.red("✗")
            }
            lines.append("\(mark) \(check.name.padding(toLength: width, withPad: " ", startingAt: 0))\(check.detail)")
            if let fix = check.fix, check.level != .ok { lines.append("  \(String(repeating: " ", count: width))→ \(fix)") }
        }
        let problems = checks.filter { $0.level == .problem }.count
        let warnings = checks.filter { $0.level == .warning }.count
        lines.append(problems + warnings == 0 ? "All good."
            : "\(problems) problem\(problems == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s").")
        return lines.joined(separator: "\n")
    }
}
