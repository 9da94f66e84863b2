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
                let generation = await engine.generation
                guard let json = await requestJSON(request) else { return serverError }
                let inputFiles = await engine.inputFiles
                if let failure = validate(json["prompt"], inputFiles: inputFiles) {
                    return Response.json(JSONSerialization.object(.object(failure)), status: .badRequest)
                }
                let promptID = json["prompt_id"].map { $0.stringValue ?? "\($0)" } ?? UUID().uuidString.lowercased()
                guard let number = await engine.submit(json["prompt"]!.objectValue!, clientID: json["client_id"]?.stringValue,
                                                       promptID: promptID, extraData: json["extra_data"]?.objectValue ?? [:],
                                                       receivedIn: generation) else { return serverError }
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

extension FakeComfyUI {
    /// `POST /upload/image`: the `image` part of a multipart body into the input folder, renamed
    /// `name (1).png` when the name is taken by other bytes, kept when the bytes are the same.
    static func addUploadRoute(to router: Router<BasicRequestContext>, engine: Engine) {
        for prefix in ["", "/api"] {
            router.post("\(prefix)/upload/image") { request, _ in
                let contentType = request.headers[.contentType] ?? ""
                guard let boundary = contentType.components(separatedBy: "boundary=").last, contentType.contains("multipart/form-data") else {
                    return Response(status: .badRequest)
                }
                var request = request
                guard let buffer = try? await request.collectBody(upTo: 100 << 20) else { return Response(status: .badRequest) }
                let parts = Multipart.parse(Array(buffer.readableBytesView), boundary: boundary)
                guard let image = parts.first(where: { $0.name == "image" }), let filename = image.filename else {
                    return Response(status: .badRequest)
                }
                let overwrite = parts.first { $0.name == "overwrite" }.map { ["true", "1"].contains(String(decoding: $0.body, as: UTF8.self)) } ?? false
                let name = await engine.storeInput(filename, bytes: image.body, overwrite: overwrite)
                return Response.json(["name": name, "subfolder": "", "type": "input"])
            }
        }
    }
}

/// Just enough multipart/form-data for the fake: parts with a name, a filename and a body.
enum Multipart {
    struct Part {
        var name: String?
        var filename: String?
        var body: [UInt8]
    }

    static func parse(_ bytes: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        let starts = ByteSearch.occurrences(of: delimiter, in: bytes)
        for (start, end) in zip(starts, starts.dropFirst()) {
            let section = Array(bytes[(start + delimiter.count)..<end])
            guard let split = (0..<max(0, section.count - 3)).first(where: { section[$0..<($0 + 4)].elementsEqual([13, 10, 13, 10]) }) else { continue }
            let header = String(decoding: section[..<split], as: UTF8.self)
            var body = Array(section[(split + 4)...])
            if body.suffix(2) == [13, 10] { body.removeLast(2) }
            func attribute(_ key: String) -> String? {
                guard let range = header.range(of: "\(key)=\"") else { return nil }
                return String(header[range.upperBound...].prefix { $0 != "\"" })
            }
            parts.append(Part(name: attribute("name"), filename: attribute("filename"), body: body))
        }
        return parts
    }
}
