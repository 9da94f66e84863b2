import BackendHTTP
import ComfyUIClient
import Foundation
import GPUCtlModels
import NIOCore
import NIOHTTP1

/// The ComfyUI door (`--comfyui-listen`): ComfyUI's web page and API served through gpuctld,
/// so a person uses ComfyUI's own UI while its prompts wait for room on the card. A prompt
/// becomes a durable gpuctld job (answered at once in ComfyUI's shape, submitted under the
/// same prompt_id when the Scheduler lets it run); the queue the page shows holds what waits
/// in gpuctld; deleting or interrupting a job from the page cancels it. Everything else is
/// relayed to ComfyUI as it is, the page's WebSocket included (`PageSocketRelay`).
struct ComfyDoor: DoorHandling {
    struct Settings: Sendable {
        /// Limits of a relayed request (an upload or a large `/view` may take a while).
        var passthroughTimeouts = StreamTimeouts(firstByte: .seconds(300), idle: .seconds(300), total: .seconds(3600))
        /// The largest request body read: ComfyUI's own upload limit.
        var maximumBody = 100 << 20
        /// A call gpuctld makes to ComfyUI itself (`/queue`, `/prompt`).
        var quickTimeout: Duration = .seconds(5)
    }

    let supervisor: Supervisor
    let comfyui: ComfyUIClient
    let pages: ComfyPageSockets
    let settings: Settings
    let metrics: DaemonMetrics

    var upstream: JSONHTTPClient { comfyui.transport }

    func handle(_ request: DoorRequest, _ response: DoorResponse) async {
        let started = ContinuousClock.now
        let route = ComfyDoorRoute(method: request.head.method.rawValue, path: request.path)
        if ComfyDoorRoute.isCrossOrigin(origin: request.head.headers.first(name: "origin"),
                                        host: request.head.headers.first(name: "host")) {
            await response.send(status: .forbidden, contentType: "text/plain; charset=utf-8",
                                body: ByteBuffer(string: "gpuctld refuses requests from another site's page (Origin is not this address)"))
        } else {
            switch route {
            case .submit: await submit(request, response)
            case .promptInfo: await promptInfo(request, response)
            case .queue: await queue(request, response)
            case .editQueue: await editQueue(request, response)
            case .interrupt: await interrupt(request, response)
            case .passthrough: await passOn(request, to: response)
            }
        }
        metrics.doorRequest(door: "comfyui", endpoint: Self.endpointLabel(route), status: response.status,
                            duration: ContinuousClock.now - started)
    }

    static func endpointLabel(_ route: ComfyDoorRoute) -> String {
        switch route {
        case .submit: "/prompt"
        case .promptInfo: "/prompt"
        case .queue, .editQueue: "/queue"
        case .interrupt: "/interrupt"
        case .passthrough: "other"
        }
    }

    /// Sends the request to ComfyUI and relays the answer as it comes (a browser's `Origin`,
    /// already checked, is rewritten to ComfyUI's own, which ComfyUI checks again).
    func passOn(_ request: DoorRequest, to response: DoorResponse) async {
        var headers = request.head.headers
        if headers.contains(name: "origin") { headers.replaceOrAdd(name: "Origin", value: upstream.baseURL) }
        let relayed = RelayedRequest(method: request.head.method, uri: request.head.uri, headers: headers,
                                     body: request.body.readableBytes > 0 || request.head.method == .POST ? request.body : nil)
        do {
            try await upstream.relay(relayed, timeouts: settings.passthroughTimeouts, to: response)
        } catch {
            guard !Task.isCancelled, !response.headSent else { return response.abort() }
            let failure = ComfyUIError.wrapping(error, comfyEndpoint: "\(upstream.baseURL)\(request.path)")
            let timedOut = (failure as? ComfyUIError)?.kind == .timeout
            await response.sendError(status: timedOut ? .gatewayTimeout : .badGateway, message: RPCErrorPayload(failure).message)
        }
    }

    /// ComfyUI's answer to a small GET of gpuctld's own, nil when it could not be had.
    func ask(_ path: String) async -> JSONValue? {
        guard let data = try? await upstream.send(method: .GET, path: path, body: nil, timeout: settings.quickTimeout) else { return nil }
        return try? JSONParser.parse(data)
    }

    func sendJSON(_ value: JSONValue, status: HTTPResponseStatus = .ok, to response: DoorResponse) async {
        await response.send(status: status, contentType: "application/json; charset=utf-8",
                            body: ByteBuffer(bytes: JSONWriter.data(value)))
    }

    /// 200 with an empty body: what ComfyUI answers to `/queue` edits and `/interrupt`.
    func sendEmpty(to response: DoorResponse) async {
        await response.send(status: .ok, contentType: "application/octet-stream", body: ByteBuffer())
    }
}
