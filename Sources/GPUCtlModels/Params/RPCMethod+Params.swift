extension RPCMethod {
    /// The type of this method's params: what the daemon reads them as, clients write them
    /// with, and docs/rpc.md's examples are checked against.
    public var paramsType: any RPCParams.Type {
        switch self {
        case .ping, .version, .status, .modelsList, .workflowsList, .collectionsList, .pipelinesList, .comfyFree, .metrics: NoParams.self
        case .cancel: CancelParams.self
        case .modelsLoad: ModelLoadParams.self
        case .modelsUnload: ModelUnloadParams.self
        case .modelsSwap: ModelSwapParams.self
        case .generate: GenerateParams.self
        case .chat: ChatParams.self
        case .embed: EmbedParams.self
        case .speak: SpeakParams.self
        case .comfySubmit: SubmitParams.self
        case .pipelineRun: PipelineRunParams.self
        case .collectionsAdd: CollectionsAddParams.self
        case .collectionsSearch: CollectionsSearchParams.self
        case .collectionsDelete: CollectionNameParams.self
        case .jobsList: JobsListParams.self
        case .jobsGet, .jobsCancel, .jobsWait: JobIDParams.self
        case .eventsSubscribe: EventsSubscribeParams.self
        case .backendsTrust: BackendTrustParams.self
        }
    }
}
