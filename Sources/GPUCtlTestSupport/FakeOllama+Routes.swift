import Foundation
import GPUCtlModels
import Hummingbird
import NIOCore

extension FakeOllama {
    static func router(knobs: LockedBox<Knobs>, engine: Engine, chunkTimes: LockedBox<[ContinuousClock.Instant]>) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FaultMiddleware(latency: { knobs.value.latency }, failure: {
            knobs.mutate { knobs -> Response? in
                guard knobs.failNext.count > 0 else { return nil }
                knobs.failNext.count -= 1
                return Response.json(["error": knobs.failNext.message], status: .init(code: knobs.failNext.status))
            }
        }))
        router.get("/") { _, _ in Response.text("Ollama is running", status: .ok) }
        router.head("/") { _, _ in Response(status: .ok) }
        router.get("/api/version") { _, _ in Response.json(["version": knobs.value.version]) }
        router.head("/api/version") { _, _ in Response(status: .ok) }
        router.get("/api/tags") { _, _ in
            let models = await engine.models.values.sorted { $0.name < $1.name }
            return Response.json(["models": models.map { model in
                ["name": model.name, "model": model.name, "modified_at": timestamp(Date(), utc: false),
                 "size": model.sizeBytes, "digest": String(repeating: "a", count: 64),
                 "details": details(model)] as [String: Any]
            }])
        }
        router.get("/api/ps") { _, _ in
            let residents = await engine.running()
            return Response.json(["models": residents.map { resident in
                ["name": resident.model.name, "model": resident.model.name, "size": resident.model.sizeBytes,
                 "digest": String(repeating: "a", count: 64), "details": details(resident.model),
                 "expires_at": timestamp(resident.expiresAt, utc: false), "size_vram": resident.sizeVRAM,
                 "context_length": resident.runnerOptions["num_ctx"].flatMap { if case .number(let n) = $0 { Int(n) } else { nil } }
                    ?? resident.model.contextLength] as [String: Any]
            }])
        }
        let handlers = InferenceHandlers(knobs: knobs, engine: engine, chunkTimes: chunkTimes)
        router.post("/api/generate") { request, _ in await handlers.answer(request, handlers.generate) }
        router.post("/api/chat") { request, _ in await handlers.answer(request, handlers.chat) }
        router.post("/api/embed") { request, _ in await handlers.answer(request, handlers.embed) }
        router.post("/api/embeddings") { request, _ in await handlers.answer(request, handlers.legacyEmbeddings) }
        router.post("/api/show") { request, _ in await handlers.answer(request, handlers.show) }
        router.post("/api/pull") { request, _ in await handlers.answer(request, handlers.pull) }
        // Known paths with the wrong method, and unknown routes, are answered in plain text.
        for path in ["/api/generate", "/api/chat", "/api/embed", "/api/embeddings", "/api/show", "/api/pull"] {
            router.get(RouterPath(stringLiteral: path)) { _, _ in Response.text("405 method not allowed", status: .methodNotAllowed) }
        }
        // "**" alone would not reach /api/nosuch: the /api/... routes take the "api" branch.
        for pattern: RouterPath in ["**", "api/**"] {
            router.get(pattern) { _, _ in Response.text("404 page not found", status: .notFound) }
            router.post(pattern) { _, _ in Response.text("404 page not found", status: .notFound) }
        }
        return router
    }

    static func details(_ model: Model) -> [String: Any] {
        ["parent_model": "", "format": "gguf", "family": model.family, "families": [model.family],
         "parameter_size": model.parameterSize, "quantization_level": "Q4_K_M"]
    }

    /// RFC 3339 with fractional seconds: `Z` for created_at, a local offset for expires_at.
    static func timestamp(_ date: Date, utc: Bool) -> String {
        (utc ? TimestampFormatter.utc : TimestampFormatter.local).string(date)
    }

    /// One JSON object as a body or a line: `application/json` without a newline, as Ollama sends it.
    static func object(_ members: [String: JSONValue], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.data(.object(members)))))
    }

    static func error(_ failure: Failure) -> Response {
        object(["error": .string(failure.message)], status: .init(code: failure.status))
    }
}

/// An ISO 8601 formatter made once (they cost tens of µs to make) and used under a lock.
final class TimestampFormatter: @unchecked Sendable {
    static let utc = TimestampFormatter(TimeZone(identifier: "UTC"))
    static let local = TimestampFormatter(TimeZone(secondsFromGMT: -7 * 3600))

    private let lock = NSLock()
    private let formatter = ISO8601DateFormatter()

    private init(_ zone: TimeZone?) {
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = zone
    }

    func string(_ date: Date) -> String { lock.withLock { formatter.string(from: date) } }
}
