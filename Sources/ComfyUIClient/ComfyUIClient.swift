import AsyncHTTPClient
@_exported import BackendHTTP
import Foundation
import Logging

/// ComfyUI, as a `BackendError` names it.
public enum ComfyUIBackend: BackendIdentity {
    public static let name = "ComfyUI"
}

/// A failed ComfyUI call.
public typealias ComfyUIError = BackendError<ComfyUIBackend>

extension BackendError where Backend == ComfyUIBackend {
    /// A relayed call's failure in ComfyUI's words (other errors unchanged).
    public static func wrapping(_ error: Error, comfyEndpoint endpoint: String) -> Error {
        if let failure = error as? HTTPCallFailure { return ComfyUIError(failure, comfyEndpoint: endpoint) }
        return error
    }

    init(_ failure: HTTPCallFailure, comfyEndpoint endpoint: String) {
        self.init(failure, endpoint: endpoint) { code, body in
            // A rejected workflow: name the nodes, classes and inputs, not the JSON.
            if code == 400, let readable = ComfyValidation.describe(body) { return readable }
            let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
            return "ComfyUI answered \(code) to \(endpoint)\(text.isEmpty ? "" : ": \(text.prefix(300))")"
        }
    }
}

/// ComfyUI's HTTP API. Knows nothing of gpuctl.
public struct ComfyUIClient: Sendable {
    let http: JSONHTTPClient
    let logger: Logger
    /// Deadline of small calls (stats, queue, history, submit).
    public var quickTimeout: Duration
    /// Deadline of a file download or upload.
    public var transferTimeout: Duration

    public init(baseURL: String, httpClient: HTTPClient, quickTimeout: Duration = .seconds(2),
                transferTimeout: Duration = .seconds(300), logger: Logger,
                observer: (@Sendable (BackendCall) -> Void)? = nil) {
        self.http = JSONHTTPClient(baseURL: baseURL, http: httpClient, logger: logger, observer: observer)
        self.logger = logger
        self.quickTimeout = quickTimeout
        self.transferTimeout = transferTimeout
    }

    public var baseURL: String { http.baseURL }
    /// The HTTP client underneath, for a door that relays requests as they are.
    public var transport: JSONHTTPClient { http }

    /// `GET /system_stats`: version and per-device memory.
    public func systemStats() async throws(ComfyUIError) -> SystemStats {
        do {
            return try await http.get("/system_stats", as: SystemStats.self, timeout: quickTimeout)
        } catch {
            throw ComfyUIError(error, comfyEndpoint: "\(baseURL)/system_stats")
        }
    }
}

/// `GET /system_stats`.
public struct SystemStats: Sendable, Equatable, Codable {
    public struct System: Sendable, Equatable, Codable {
        public var os: String?
        public var comfyuiVersion: String?
        public var pytorchVersion: String?
        public var pythonVersion: String?

        enum CodingKeys: String, CodingKey {
            case os, comfyuiVersion = "comfyui_version", pytorchVersion = "pytorch_version", pythonVersion = "python_version"
        }
    }

    public struct Device: Sendable, Equatable, Codable {
        public var name: String
        public var type: String
        public var index: Int?
        public var vramTotal: UInt64
        public var vramFree: UInt64
        public var torchVRAMTotal: UInt64
        public var torchVRAMFree: UInt64

        enum CodingKeys: String, CodingKey {
            case name, type, index, vramTotal = "vram_total", vramFree = "vram_free"
            case torchVRAMTotal = "torch_vram_total", torchVRAMFree = "torch_vram_free"
        }
    }

    public var system: System
    public var devices: [Device]

    /// What tells this ComfyUI from another at the same URL: its version, Python and PyTorch,
    /// and its devices with their sizes. Its flags and its free memory may change; these do not
    /// without a reinstall or another machine.
    public var identity: String {
        let devices = devices.map { "\($0.name) (\($0.vramTotal) bytes)" }.joined(separator: ", ")
        return "ComfyUI \(system.comfyuiVersion ?? "?") on Python \(system.pythonVersion ?? "?"), PyTorch \(system.pytorchVersion ?? "?"), \(devices)"
    }

    /// What this ComfyUI's allocator holds on its card (`torch_vram_total` of its first GPU);
    /// 0 on a CPU-only ComfyUI, whose memory fields are system RAM.
    public var heldOnGPU: UInt64 {
        guard let device = devices.first, device.type != "cpu" else { return 0 }
        return device.torchVRAMTotal
    }
}
