import Foundation
import GPUCtlCore
import GPUCtlModels
import NIOHTTP1

/// How a door request fared with the Scheduler.
enum DoorArbitration: Sendable {
    /// It ran on this model (the fallback when one answered).
    case served(String)
    /// The Scheduler or the ledger refused it: the client gets this status and sentence.
    case refused(HTTPResponseStatus, String)
    /// Not a model gpuctld knows, in the catalog or in Ollama: Ollama answers it in its own words.
    case notArbitrated
}

extension OllamaDoor {
    /// Resolves `name`, waits for the Scheduler (an unload is the Scheduler's too), runs `serve`
    /// while the model is held, and gives it back. `serve` gets nil for an unload.
    func arbitrate(_ name: String, request: DoorRequest, intent: DoorCall.Intent,
                   serve: (Admission?) async -> Void) async -> DoorArbitration {
        let model: String
        do {
            model = try await models.resolve(name)
        } catch is ModelError {
            return .notArbitrated
        } catch {
            return .refused(.badGateway, RPCErrorPayload(error).message)
        }
        if intent == .unload {
            do {
                _ = try await supervisor.unload(model)
            } catch {
                return .refused(Self.status(of: error), RPCErrorPayload(error).message)
            }
            await serve(nil)
            return .served(model)
        }
        let requestClass = request.head.headers.first(name: Self.classHeader)
            .flatMap { JobClass(rawValue: $0.lowercased()) } ?? .interactive
        let admission: Admission
        do {
            admission = try await supervisor.admit(model, requestClass: requestClass, exact: intent == .load,
                                                   source: .ollamaDoor, waitLimit: (settings.queueTimeout, .ollamaQueueTimeout))
        } catch {
            return .refused(Self.status(of: error), RPCErrorPayload(error).message)
        }
        await serve(admission)
        await supervisor.finish(admission)
        return .served(admission.model)
    }

    /// The HTTP status of a refusal, as Ollama would choose it: 503 when the card cannot take
    /// it (now or ever) or the daemon is stopping, 499 when the client went away, 500 else.
    static func status(of error: Error) -> HTTPResponseStatus {
        if error is QueueTimeout { return .serviceUnavailable }
        switch RPCErrorPayload(error).kind {
        case .doesNotFit?, .shuttingDown?, .overloaded?: return .serviceUnavailable
        case .cancelled?: return HTTPResponseStatus(statusCode: 499, reasonPhrase: "Client Closed Request")
        case .backendUnavailable?: return .badGateway
        case .timeout?: return .gatewayTimeout
        default: return .internalServerError
        }
    }
}
