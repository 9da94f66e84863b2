import Foundation
import GPUCtlModels
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// An in-process ComfyUI that speaks its HTTP API and `/ws` (../shared/reference/comfyui-api.md)
/// on 127.0.0.1, reporting the shared `VirtualGPU` in /system_stats.
public final class FakeComfyUI: Sendable {
    struct State: Sendable {
        var version = "0.3.64"
        var latency: Duration = .zero
        /// Connected WebSocket client ids.
        var sockets: Set<String> = []
    }

    public let gpu: VirtualGPU
    private let state: LockedBox<State>
    let knobs: LockedBox<Knobs>
    let engine: Engine
    private let server: FakeHTTPServer

    public init(gpu: VirtualGPU) {
        self.gpu = gpu
        let state = LockedBox(State())
        let knobs = LockedBox(Knobs())
        let engine = Engine(gpu: gpu, knobs: knobs)
        self.state = state
        self.knobs = knobs
        self.engine = engine
        self.server = FakeHTTPServer { port, onServerRunning, connections in
            let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
            for prefix in ["", "/api"] {
                webSocketRouter.ws("\(prefix)/ws") { inbound, outbound, context in
                    try await Self.serveWebSocket(inbound: inbound, outbound: outbound, request: context.request,
                                                  state: state, engine: engine)
                }
            }
            let router = Self.router(state: state, gpu: gpu)
            Self.addPromptRoutes(to: router, engine: engine)
            Self.addUploadRoute(to: router, engine: engine)
            let webSocketResponder = webSocketRouter.buildResponder()
            return Application(
                router: router,
                server: HTTPServerBuilder { responder in
                    connections.tracking(HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder,
                                                                           configuration: .init()))
                },
                configuration: .init(address: .hostname("127.0.0.1", port: port)),
                onServerRunning: onServerRunning,
                logger: Logger(label: "fake-comfyui", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    public var baseURL: String { server.baseURL }
    public func start() async throws { try await server.start() }
    /// Like ComfyUI going down: its sockets close and its port refuses connections.
    public func stop() async {
        await server.stop(closeLongLived: { [engine] in await engine.dropSockets() })
    }
    public func setLatency(_ latency: Duration) { state.mutate { $0.latency = latency } }
    /// The version /system_stats reports (a ComfyUI upgraded, or another one on its port).
    public func setVersion(_ version: String) { state.mutate { $0.version = version } }
    /// Changes the worker's timings and faults.
    public func configure(_ change: (inout Knobs) -> Void) { knobs.mutate(change) }
    /// Like a ComfyUI restart: the queue, the history and the loaded checkpoints are gone.
    public func restart() async throws {
        await server.stop(closeLongLived: { [engine] in await engine.dropSockets() })
        await engine.forget()
        try await server.start()
    }
    /// Closes every open WebSocket from the server's side (a network blip, a proxy timeout).
    public func dropWebSockets() async { await engine.dropSockets() }
    /// The bytes of a file in the input folder (an upload).
    public func inputFile(_ name: String) async -> [UInt8]? { await engine.file("input", "", name) }
    /// Serves `bytes` at `/view` under any name, as a compromised ComfyUI could report one.
    public func addFile(type: String, subfolder: String, name: String, bytes: [UInt8]) async {
        await engine.addFile(type, subfolder, name, bytes: bytes)
    }

    /// Prompts ComfyUI has finished, by id.
    public var historyIDs: [String] { get async { await engine.history.keys.sorted() } }
    /// Prompt ids in the order they finished.
    public var finishOrder: [String] { get async { await engine.finished } }
    /// For each restart, how many prompts had finished before it (indexes into `finishOrder`).
    public var restartMarks: [Int] { get async { await engine.restartMarks } }
    /// How many times each checkpoint was loaded onto the card (again after a /free).
    public var checkpointLoads: [String: Int] { get async { await engine.checkpointLoads } }
    /// Client ids with an open WebSocket.
    public var connectedClients: Set<String> { state.value.sockets }

    static func router(state: LockedBox<State>, gpu: VirtualGPU) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FaultMiddleware(latency: { state.value.latency }, failure: { nil }))
        router.add(middleware: OriginCheck())
        // The web page, as ComfyUI serves its frontend at /.
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: pageHTML)))
        }
        for prefix in ["", "/api"] {
            router.get("\(prefix)/system_stats") { _, _ in
                let total = gpu.totalBytes
                let free = await gpu.freeBytes
                // ComfyUI's own allocator: what its checkpoints hold.
                let held = await gpu.holders.filter { $0.key.hasPrefix("comfyui:") }.values.reduce(0, +)
                return Response.json([
                    "system": ["os": "posix", "ram_total": 33_556_000_768, "ram_free": 20_000_000_000,
                               "comfyui_version": state.value.version, "required_frontend_version": "1.27.10",
                               "installed_templates_version": "0.1.95", "required_templates_version": "0.1.95",
                               "python_version": "3.11.2 (main)", "pytorch_version": "2.8.0+cu128",
                               "embedded_python": false, "argv": ["main.py", "--listen", "127.0.0.1"]] as [String: Any],
                    "devices": [["name": "cuda:0 \(gpu.name) : cudaMallocAsync", "type": "cuda", "index": 0,
                                 "vram_total": total, "vram_free": free, "torch_vram_total": held,
                                 "torch_vram_free": 0] as [String: Any]],
                ])
            }

            router.get("\(prefix)/features") { _, _ in
                Response.json(["supports_preview_metadata": true, "max_upload_size": 104_857_600])
            }
        }
        return router
    }

    /// The first frame is `status` with the client's id as `sid`, as ComfyUI sends it; client
    /// text is ignored except a first `feature_flags`, which is answered.
    static func serveWebSocket(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                               request: Request, state: LockedBox<State>, engine: Engine) async throws {
        let clientID = request.uri.queryParameters.get("clientId") ?? UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        state.mutate { _ = $0.sockets.insert(clientID) }
        await engine.connect(clientID, send: { frame in
            switch frame {
            case .text(let text): try? await outbound.write(.text(text))
            case .binary(let bytes): try? await outbound.write(.binary(ByteBuffer(bytes: bytes)))
            }
        },
                             close: { try? await outbound.close(.goingAway, reason: "dropped by the fake") })
        defer { state.mutate { _ = $0.sockets.remove(clientID) } }
        try await outbound.write(.text(frame(type: "status", json: [
            "status": ["exec_info": ["queue_remaining": 0]], "sid": .string(clientID),
        ])))
        var first = true
        for try await message in inbound.messages(maxSize: 1 << 20) {
            defer { first = false }
            guard first, case .text(let text) = message,
                  let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                  object["type"] as? String == "feature_flags" else { continue }
            try await outbound.write(.text(frame(type: "feature_flags", json: [
                "supports_preview_metadata": true, "max_upload_size": 104_857_600,
            ])))
        }
        await engine.disconnect(clientID)
    }

    /// A text frame `{"data":…,"type":…}` (keys sorted, as the fake writes everything).
    static func frame(type: String, json data: JSONValue) -> String {
        String(decoding: JSONWriter.data(["type": .string(type), "data": data]), as: UTF8.self)
    }
}

extension FakeComfyUI {
    /// What `/` serves: a stand-in for ComfyUI's frontend, which a test checks arrives whole.
    public static let pageHTML = "<!DOCTYPE html><html><head><title>ComfyUI</title></head><body><div id=\"vue-app\"></div></body></html>\n"

    /// ComfyUI's check on a loopback listener: a browser request whose `Origin` is not the
    /// `Host` it was sent to (host and port, or host alone when either has no port) is refused
    /// with 403 (server.py, create_origin_only_middleware).
    struct OriginCheck: RouterMiddleware {
        typealias Context = BasicRequestContext

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            if let origin = request.headers[.origin], let host = request.head.authority,
               let url = URL(string: origin), let target = URLComponents(string: "//" + host),
               url.host?.lowercased() != target.host?.lowercased() || (url.port != nil && target.port != nil && url.port != target.port) {
                return Response(status: .forbidden)
            }
            return try await next(request, context)
        }
    }
}
