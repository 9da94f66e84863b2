import Foundation
import Hummingbird
import NIOCore

extension FakeOllama {
    static func router(state: LockedBox<State>, gpu: VirtualGPU) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FaultMiddleware(latency: { state.value.latency }, failure: {
            state.mutate { state -> Response? in
                guard state.failNext.count > 0 else { return nil }
                state.failNext.count -= 1
                return Response.json(["error": state.failNext.message], status: .init(code: state.failNext.status))
            }
        }))
        router.get("/") { _, _ in Response.text("Ollama is running", status: .ok) }
        router.head("/") { _, _ in Response(status: .ok) }
        router.get("/api/version") { _, _ in Response.json(["version": state.value.version]) }
        router.head("/api/version") { _, _ in Response(status: .ok) }
        router.get("/api/tags") { _, _ in
            Response.json(["models": state.value.models.values.sorted { $0.name < $1.name }.map { model in
                ["name": model.name, "model": model.name, "modified_at": timestamp(Date(), utc: false),
                 "size": model.sizeBytes, "digest": String(repeating: "a", count: 64),
                 "details": details(model)] as [String: Any]
            }])
        }
        router.get("/api/ps") { _, _ in
            let residents = state.value.residents.values.sorted { $0.expiresAt > $1.expiresAt }
            return Response.json(["models": residents.map { resident in
                ["name": resident.model.name, "model": resident.model.name, "size": resident.model.sizeBytes,
                 "digest": String(repeating: "a", count: 64), "details": details(resident.model),
                 "expires_at": timestamp(resident.expiresAt, utc: false), "size_vram": resident.model.sizeBytes,
                 "context_length": resident.model.contextLength] as [String: Any]
            }])
        }
        // Ollama answers unknown routes with plain text.
        router.get("**") { _, _ in Response.text("404 page not found", status: .notFound) }
        router.post("**") { _, _ in Response.text("404 page not found", status: .notFound) }
        return router
    }

    static func details(_ model: Model) -> [String: Any] {
        ["parent_model": "", "format": "gguf", "family": model.family, "families": [model.family],
         "parameter_size": model.parameterSize, "quantization_level": "Q4_K_M"]
    }

    /// RFC 3339 with nanoseconds: `Z` for created_at, a local offset for expires_at.
    static func timestamp(_ date: Date, utc: Bool) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = utc ? TimeZone(identifier: "UTC") : TimeZone(secondsFromGMT: -7 * 3600)
        return formatter.string(from: date)
    }
}
