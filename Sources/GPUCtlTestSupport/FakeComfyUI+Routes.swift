import Foundation
import GPUCtlModels
import Hummingbird
import NIOCore

extension FakeComfyUI {
    /// /prompt, /queue, /interrupt, /history, /free, /view, /object_info, each also under /api.
    /// The request's JSON body; nil when it is not JSON (ComfyUI then answers aiohttp's plain-text 500).
    @Sendable static func requestJSON(_ request: Request) async -> JSONValue? {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: 64 << 20) else { return nil }
        return try? JSONParser.parse(buffer.readableBytesView)
    }

    static func addPromptRoutes(to router: Router<BasicRequestContext>, engine: Engine) {
        let serverError = Response.text("500 Internal Server Error\n\nServer got itself in trouble", status: .internalServerError)
        let empty = Response(status: .ok)
        for prefix in ["", "/api"] {
            router.post("\(prefix)/prompt") { request, _ in
                guard let json = await requestJSON(request) else { return serverError }
                let inputFiles = await engine.inputFiles
                if let failure = validate(json["prompt"], inputFiles: inputFiles) {
                    return Response.json(JSONSerialization.object(.object(failure)), status: .badRequest)
                }
                let promptID = json["prompt_id"].map { $0.stringValue ?? "\($0)" } ?? UUID().uuidString.lowercased()
                let number = await engine.submit(json["prompt"]!.objectValue!, clientID: json["client_id"]?.stringValue, promptID: promptID)
                return Response.json(["prompt_id": promptID, "number": number, "node_errors": [String: Any]()])
            }
            router.get("\(prefix)/prompt") { _, _ in
                Response.json(["exec_info": ["queue_remaining": await engine.queueRemaining]])
            }
            router.get("\(prefix)/queue") { _, _ in Response.json(JSONSerialization.object(await engine.queueJSON())) }
            router.post("\(prefix)/queue") { request, _ in
                guard let json = await requestJSON(request) else { return serverError }
                if json["clear"] == .bool(true) { await engine.clear() }
                if case .array(let ids)? = json["delete"] { await engine.delete(ids.compactMap(\.stringValue)) }
                return empty
            }
            router.post("\(prefix)/interrupt") { request, _ in
                await engine.interrupt(await requestJSON(request)?["prompt_id"]?.stringValue)
                return empty
            }
            router.get("\(prefix)/history") { _, _ in
                Response.json(JSONSerialization.object(.object(await engine.history)))
            }
            router.get("\(prefix)/history/:id") { _, context in
                let id = context.parameters.get("id") ?? ""
                let entry = await engine.history[id]
                return Response.json(JSONSerialization.object(.object(entry.map { [id: $0] } ?? [:])))
            }
            router.post("\(prefix)/free") { request, _ in
                guard await requestJSON(request) != nil else { return serverError }
                await engine.free()
                return empty
            }
            router.get("\(prefix)/view") { request, _ in
                let query = request.uri.queryParameters
                guard let name = query.get("filename"), let bytes = await engine.file(
                    query.get("type") ?? "output", query.get("subfolder") ?? "", name) else { return Response(status: .notFound) }
                return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            }
            router.get("\(prefix)/object_info") { _, _ in
                Response.json(nodeClasses.mapValues { objectInfo("", $0) }.reduce(into: [String: Any]()) { $0[$1.key] = $1.value })
            }
            router.get("\(prefix)/object_info/:class") { _, context in
                let name = context.parameters.get("class") ?? ""
                guard let node = nodeClasses[name] else { return Response.json([String: Any]()) }
                return Response.json([name: objectInfo(name, node)])
            }
        }
    }
}
