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
    private let collections: CollectionService
    private let pipelines: PipelineService
    private let speech: SpeechService
    private let events: EventsService
    private let pingReply: RPCReply
    private let versionReply: RPCReply

    init(supervisor: Supervisor, models: ModelService, comfy: ComfyService, jobs: JobService, collections: CollectionService,
         pipelines: PipelineService, speech: SpeechService) {
        self.speech = speech
        self.jobs = jobs
        self.collections = collections
        self.pipelines = pipelines
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
        case .ping?, .version?, nil:
            return Self.unknown(call)
        case .status?:
            return await Self.run(call) { (_: NoParams) in await supervisor.status() }
        case .cancel?:
            // The connection answers cancel itself; reaching here means it was sent in a batch.
            return .error(RPCErrorPayload(.invalidParams, "cancel must be sent on its own line, on the connection of the call it stops"))
        case .modelsList?:
            return await Self.run(call) { (_: NoParams) in await models.list() }
        case .comfyFree?:
            return await Self.run(call) { (_: NoParams) in try await comfy.free() }
        case .workflowsList?:
            return await Self.run(call) { (_: NoParams) in supervisor.workflowsList() }
        case .metrics?:
            return await Self.run(call) { (_: NoParams) in MetricsResult(text: await supervisor.metricsText()) }
        case .backendsTrust?:
            return await Self.run(call) { (params: BackendTrustParams) in await supervisor.trustBackend(params.backend) }
        case .comfySubmit?:
            return await Self.run(call) { (params: SubmitParams) in try await jobs.submit(params) }
        case .jobsList?:
            return await Self.run(call) { (params: JobsListParams) in try await jobs.list(params) }
        case .jobsGet?:
            return await Self.run(call) { (params: JobIDParams) in try await jobs.get(params) }
        case .jobsCancel?:
            return await Self.run(call) { (params: JobIDParams) in
                supervisor.storedJob(params.id)?.kind == .pipeline ? try await pipelines.cancel(params.id) : try await jobs.cancel(params)
            }
        case .pipelinesList?:
            return await Self.run(call) { (_: NoParams) in await pipelines.list() }
        case .pipelineRun?:
            return await Self.run(call) { (params: PipelineRunParams) in try await pipelines.run(params) }
        case .jobsWait?:
            return await Self.run(call) { (params: JobIDParams) in try await jobs.wait(params, id: call.id, streamTo: context) }
        case .eventsSubscribe?:
            return await Self.run(call) { (params: EventsSubscribeParams) in
                try await events.subscribe(params, id: call.id, streamTo: context)
            }
        case .modelsLoad?:
            return await Self.run(call) { (params: ModelLoadParams) in try await models.load(params) }
        case .modelsUnload?:
            return await Self.run(call) { (params: ModelUnloadParams) in try await models.unload(params) }
        case .modelsSwap?:
            return await Self.run(call) { (params: ModelSwapParams) in try await models.swap(params) }
        case .generate?:
            return await Self.run(call) { (params: GenerateParams) in
                try await models.infer(.generate(params), streamTo: context, id: call.id)
            }
        case .chat?:
            return await Self.run(call) { (params: ChatParams) in
                try await models.infer(.chat(params), streamTo: context, id: call.id)
            }
        case .embed?:
            return await Self.run(call) { (params: EmbedParams) in try await models.embed(params) }
        case .speak?:
            return await Self.run(call) { (params: SpeakParams) in try await speech.speak(params).result }
        case .collectionsAdd?:
            return await Self.run(call) { (params: CollectionsAddParams) in try await collections.add(params) }
        case .collectionsSearch?:
            return await Self.run(call) { (params: CollectionsSearchParams) in try await collections.search(params) }
        case .collectionsList?:
            return await Self.run(call) { (_: NoParams) in try await collections.list() }
        case .collectionsDelete?:
            return await Self.run(call) { (params: CollectionNameParams) in try await collections.delete(params) }
        }
    }

    /// Reads the call's params as `Params` (every field checked before anything runs), then
    /// runs the method body; whatever either throws becomes the error reply.
    private static func run<Params: RPCParams, Result: Encodable>(
        _ call: RPCCall, _ body: (Params) async throws -> Result
    ) async -> RPCReply {
        do {
            let params = try Params(method: call.method, params: call.params)
            return .encoding(try await body(params))
        } catch {
            return .error(RPCErrorPayload(error))
        }
    }

    private static func noParams(_ call: RPCCall) -> RPCReply? {
        do {
            _ = try NoParams(method: call.method, params: call.params)
            return nil
        } catch {
            return .error(error)
        }
    }

    private static func unknown(_ call: RPCCall) -> RPCReply {
        let suggestion = Suggestion.closest(to: call.method, in: RPCMethod.allCases.map(\.rawValue))
            .map { "; did you mean '\($0)'?" } ?? "; see docs/rpc.md for the methods"
        return .error(RPCErrorPayload(.methodNotFound, "method not found: '\(call.method)'\(suggestion)"))
    }
}
