import AsyncHTTPClient
import BackendHTTP
import Foundation
import Logging

/// A failed ComfyUI call: its status and body when it answered, else why it could not be reached.
public struct ComfyUIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable, timeout, http, decoding
    }

    public var kind: Kind
    public var status: Int?
    public var message: String

    public var description: String { message }

    init(_ failure: HTTPCallFailure, endpoint: String) {
        switch failure {
        case .unreachable(let reason):
            self.init(kind: .unreachable, status: nil, message: "ComfyUI is unreachable (\(reason)) at \(endpoint)")
        case .timedOut(let seconds):
            self.init(kind: .timeout, status: nil, message: "ComfyUI did not answer \(endpoint) within \(seconds) s")
        case .status(let code, let body):
            let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
            self.init(kind: .http, status: code, message: "ComfyUI answered \(code) to \(endpoint)\(text.isEmpty ? "" : ": \(text.prefix(300))")")
        case .undecodable(let detail):
            self.init(kind: .decoding, status: nil, message: "ComfyUI's answer to \(endpoint) was not understood (\(detail))")
        }
    }

    public init(kind: Kind, status: Int?, message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }
}

/// ComfyUI's HTTP API. Knows nothing of gpuctl.
public struct ComfyUIClient: Sendable {
    private let http: JSONHTTPClient
    public var quickTimeout: Duration

    public init(baseURL: String, httpClient: HTTPClient, quickTimeout: Duration = .seconds(2), logger: Logger) {
        self.http = JSONHTTPClient(baseURL: baseURL, http: httpClient, logger: logger)
        self.quickTimeout = quickTimeout
    }

    public var baseURL: String { http.baseURL }

    /// `GET /system_stats`: version and per-device memory.
    public func systemStats() async throws(ComfyUIError) -> SystemStats {
        do {
            return try await http.get("/system_stats", as: SystemStats.self, timeout: quickTimeout)
        } catch {
            throw ComfyUIError(error, endpoint: "\(baseURL)/system_stats")
        }
    }
}

/// `GET /system_stats`.
public struct SystemStats: Sendable, Equatable, Codable {
    public struct System: Sendable, Equatable, Codable {
        public var os: String?
        public var comfyuiVersion: String?
        public var pytorchVersion: String?

        enum CodingKeys: String, CodingKey {
            case os, comfyuiVersion = "comfyui_version", pytorchVersion = "pytorch_version"
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
}
