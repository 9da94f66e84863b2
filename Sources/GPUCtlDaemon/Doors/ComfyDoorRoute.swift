import Foundation

/// What the ComfyUI door does with a request, from its method and path alone. Every route is
/// served at `/x` and `/api/x`, as ComfyUI serves them.
enum ComfyDoorRoute: Equatable, Sendable {
    /// `POST /prompt`: becomes a gpuctld job.
    case submit
    /// `GET /prompt`: how much is left, gpuctld's waiting jobs counted in.
    case promptInfo
    /// `GET /queue`: ComfyUI's queue and gpuctld's waiting jobs.
    case queue
    /// `POST /queue` (`delete`, `clear`): gpuctld's jobs are cancelled, the rest passes on.
    case editQueue
    /// `POST /interrupt`: a gpuctld job is cancelled, anything else passes on.
    case interrupt
    /// Everything else (the page, `/view`, `/upload/*`, `/history`, `/object_info`, …).
    case passthrough

    init(method: String, path: String) {
        let bare = path.hasPrefix("/api/") ? String(path.dropFirst(4)) : path
        switch (method, bare) {
        case ("POST", "/prompt"): self = .submit
        case ("GET", "/prompt"): self = .promptInfo
        case ("GET", "/queue"): self = .queue
        case ("POST", "/queue"): self = .editQueue
        case ("POST", "/interrupt"): self = .interrupt
        default: self = .passthrough
        }
    }

    /// Whether `path` is the page's WebSocket (`/ws`, `/api/ws`).
    static func isWebSocket(_ path: String) -> Bool { path == "/ws" || path == "/api/ws" }

    /// The `clientId` a WebSocket request asks for (percent-decoded), if any.
    static func clientID(inURI uri: String) -> String? {
        guard let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "clientId" else { continue }
            let value = String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])
            return value.isEmpty ? nil : value
        }
        return nil
    }

    /// True when a browser sent the request from another site's page (its `Origin` is not the
    /// door it is addressed to), as ComfyUI decides it before refusing with 403 (server.py,
    /// `create_origin_only_middleware`): host and port must match, or the host alone when
    /// either side names no port. So a web page cannot queue work on this machine's GPU.
    static func isCrossOrigin(origin: String?, host: String?) -> Bool {
        guard let origin, let host, !origin.isEmpty, !host.isEmpty else { return false }
        guard let url = URL(string: origin), let originHost = url.host?.lowercased(),
              let target = URLComponents(string: "//" + host), let targetHost = target.host?.lowercased() else { return true }
        let bare = { (name: String) in name.hasPrefix("[") ? String(name.dropFirst().dropLast()) : name }
        guard bare(originHost) == bare(targetHost) else { return true }
        guard let originPort = url.port, let targetPort = target.port else { return false }
        return originPort != targetPort
    }
}
