import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC

/// The method table: one entry per `RPCMethod`, the one place a method name meets its code.
public struct RPCRouter: RPCHandling {
    private let supervisor: Supervisor
    private let models: ModelService
    private let comfy: ComfyService
    private let jobs: JobService
    private let events: EventsService
    private let pingReply: RPCReply
    private let versionReply: RPCReply

    init(supervisor: Supervisor, models: ModelService, comfy: ComfyService, jobs: JobService) {
        self.jobs = jobs
        self.events = EventsService(hub: supervisor.events)
        self.supervisor = supervisor
        self.models = models
        self.comfy = comfy
        // Answers that never change are encoded once.
        self.pingReply = .encoding(PingResult())
        self.versionReply = .encoding(VersionResult())
    }

    public func answerImmediately(_ call: RPCCall) -> RPCReply? {
        switch RPCMethod(rawValue: call.method) {
        case .ping?: Self.noParams(call) ?? pingReply
        case .version?: Self.noParams(call) ?? versionReply
        case nil: Self.unknown(call)
        default: nil
        }
    }

    public func handle(_ call: RPCCall, context: RPCCallContext) async -> RPCReply {
        if let immediate = answerImmediately(call) { return immediate }
        switch RPCMethod(rawValue: call.method) {
        case .status?:
            if let error = Self.noParams(call) { return error }
            return .encoding(await supervisor.status())
        case .ping?, .version?, nil:
            return Self.unknown(call)
        case .cancel?:
            // The connection answers cancel itself; reaching here means it was sent in a batch.
            return .error(RPCErrorPayload(.invalidParams, "cancel must be sent on its own line, on the connection of the call it stops"))
        case .modelsList?:
            if let error = Self.noParams(call) { return error }
            return .encoding(await models.list())
        case .comfyFree?:
            if let error = Self.noParams(call) { return error }
            return await Self.run { try await comfy.free() }
        case .workflowsList?:
            if let error = Self.noParams(call) { return error }
            return .encoding(supervisor.workflowsList())
        case .comfySubmit?:
            return await Self.run { try await jobs.submit(RPCParams(call, allowed: JobService.submitFields)) }
        case .jobsList?:
            return await Self.run { try await jobs.list(RPCParams(call, allowed: ["limit", "state"])) }
        case .jobsGet?:
            return await Self.run { try await jobs.get(RPCParams(call, allowed: ["id"])) }
        case .jobsCancel?:
            return await Self.run { try await jobs.cancel(RPCParams(call, allowed: ["id"])) }
        case .eventsSubscribe?:
            return await Self.run { try await events.subscribe(RPCParams(call, allowed: ["types"]), id: call.id, streamTo: context) }
        case .metrics?:
            if let error = Self.noParams(call) { return error }
            return .encoding(MetricsResult(text: await supervisor.metricsText()))
        case .jobsWait?:
            return await Self.run { try await jobs.wait(RPCParams(call, allowed: ["id"]), id: call.id, streamTo: context) }
        case .modelsLoad?:
            return await Self.run { try await models.load(RPCParams(call, allowed: ["model", "keep_alive", "class"])) }
        case .modelsUnload?:
            return await Self.run { try await models.unload(RPCParams(call, allowed: ["model", "all"])) }
        case .modelsSwap?:
            return await Self.run { try await models.swap(RPCParams(call, allowed: ["model", "keep"])) }
        case .generate?:
            return await Self.run {
                try await models.infer(InferenceParams(call, chat: false), streamTo: context, id: call.id)
            }
        case .chat?:
            return await Self.run {
                try await models.infer(InferenceParams(call, chat: true), streamTo: context, id: call.id)
            }
        case .embed?:
            return await Self.run {
                try await models.embed(EmbedParams(call))
            }
        }
    }

    /// Runs a method body; whatever it throws becomes the error reply.
    private static func run<T: Encodable>(_ body: () async throws -> T) async -> RPCReply {
        do {
            return .encoding(try await body())
        } catch {
            return .error(RPCErrorPayload(ollama: error))
        }
    }

    /// These methods take no params: absent, `{}` and `[]` are fine, anything else is -32602.
    private static func noParams(_ call: RPCCall) -> RPCReply? {
        switch call.params {
        case nil, .object([:])?, .array([])?: return nil
        default:
            return .error(RPCErrorPayload(.invalidParams, "invalid params for \(call.method): it takes no params; send {} or leave params out"))
        }
    }

    private static func unknown(_ call: RPCCall) -> RPCReply {
        let suggestion = Suggestion.closest(to: call.method, in: RPCMethod.allCases.map(\.rawValue))
            .map { "; did you mean '\($0)'?" } ?? "; see docs/rpc.md for the methods"
        return .error(RPCErrorPayload(.methodNotFound, "method not found: '\(call.method)'\(suggestion)"))
    }
}
