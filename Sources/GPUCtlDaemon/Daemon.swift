import AsyncHTTPClient
import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore
import GPUProbe
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import OllamaClient
import SpeechClient
import ServiceLifecycle

/// Why the daemon could not start: one sentence, printed as it is.
public struct DaemonStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// gpuctld put together: the store, the catalog, the GPU probe, the backend clients, the
/// Supervisor and the socket, run as one ServiceGroup.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    public let supervisor: Supervisor
    private let store: JobStore
    private let lock: StateDirectoryLock
    private let httpClient: HTTPClient
    private let group: ServiceGroup
    private let logger: Logger

    private init(configuration: DaemonConfiguration, supervisor: Supervisor, store: JobStore, lock: StateDirectoryLock,
                 httpClient: HTTPClient, group: ServiceGroup, logger: Logger) {
        self.configuration = configuration
        self.supervisor = supervisor
        self.store = store
        self.lock = lock
        self.httpClient = httpClient
        self.group = group
        self.logger = logger
    }

    /// Opens the store, reads the catalog, picks the GPU source and takes the socket. When this
    /// returns, the socket answers; `run()` keeps it serving. With `handleSignals` the
    /// ServiceGroup stops on SIGTERM/SIGINT once it runs; gpuctld's main watches them itself
    /// from its first line (`StopSignals`), so a stop during start-up is not lost.
    public static func start(configuration: DaemonConfiguration, handleSignals: Bool = true,
                             logger: Logger) async throws(DaemonStartError) -> Daemon {
        var configuration = configuration
        if let listener = configuration.systemd.listenFD {
            // Socket activation: serve what systemd listens on (see systemd/gpuctld.socket).
            if configuration.systemd.listenFDCount > 1 {
                throw DaemonStartError("systemd passed \(configuration.systemd.listenFDCount) sockets; gpuctld serves one: give gpuctld.socket a single ListenStream=")
            }
            if let problem = SystemdEnvironment.problem(withListener: listener) { throw DaemonStartError(problem) }
            configuration.socketPath = SystemdEnvironment.boundPath(of: listener) ?? configuration.socketPath
        }
        let catalog = try loadCatalog(configuration)
        var peerPolicy = PeerPolicy()
        if let name = configuration.allowGroup {
            guard let gid = PeerPolicy.groupID(named: name) else {
                throw DaemonStartError("--allow-group names '\(name)', which is not a group on this system; create it (groupadd \(name)) or leave it out")
            }
            peerPolicy.allowedGID = gid
        }
        let store: JobStore
        let lock: StateDirectoryLock
        do {
            // The lock first: a second daemon must not open (or migrate) the store it is refused.
            try JobStore.prepare(directory: configuration.stateDirectory)
            lock = try StateDirectoryLock(directory: configuration.stateDirectory)
            store = try JobStore(directory: configuration.stateDirectory)
        } catch let error as StoreError {
            throw DaemonStartError(error.message)
        } catch let error as ConfigurationError {
            throw DaemonStartError(error.message)
        } catch {
            throw DaemonStartError("\(error)")
        }
        let probe = await GPUProbe.detect(
            declaredTotalBytes: configuration.declaredVRAM?.bytes, index: configuration.gpuIndex,
            nvmlPath: configuration.nvmlPath,
            nvidiaSMIPath: configuration.useNvidiaSMI ? configuration.nvidiaSMIPath ?? GPUProbe.locate("nvidia-smi") : nil,
            logger: logger)
        let firstSample = try? await probe.sample()
        if case .declared = probe.source, configuration.declaredVRAM == nil {
            logger.warning("no GPU could be read and no --vram was given: the budget is 0 until you pass --vram SIZE (e.g. --vram 24GiB)")
        }
        let workflows = loadWorkflows(configuration, logger: logger)
        let metrics = DaemonMetrics()
        metrics.prepare(models: catalog.models.filter { $0.backend == .ollama }.map(\.name))
        let (work, workContinuation) = AsyncStream<ModelWork>.makeStream()
        let (runnerInputs, runnerContinuation) = AsyncStream<RunnerInput>.makeStream()
        // /ws messages for the job runner, from its own follower and the ComfyUI door's pages.
        let runnerBacklog = WebSocketBacklog()
        let supervisor = Supervisor(configuration: configuration, catalog: catalog, workflows: workflows, store: store,
                                    initialGPU: firstSample, work: workContinuation, runner: runnerContinuation,
                                    metrics: metrics, logger: logger)
        let restored = await supervisor.restoreJobs()
        if restored > 0 { logger.info("\(restored) unfinished job(s) taken up from the store") }
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30))
        // A refused connection means the backend is down: say so now rather than retrying until
        // the deadline. Our own callers decide whether and when to try again.
        pool.retryConnectionEstablishment = false
        // No read timeout here: every call has its own limits (a model load may be silent for minutes).
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            timeout: .init(connect: .seconds(2), read: nil), connectionPool: pool))
        let ollama = OllamaClient(
            baseURL: configuration.ollamaURL, httpClient: httpClient, quickTimeout: configuration.backendProbeTimeout,
            streamTimeouts: StreamTimeouts(firstByte: configuration.loadTimeout, idle: configuration.streamIdleTimeout,
                                           total: configuration.requestTimeout),
            logger: logger, observer: { metrics.backendCall(.ollama, $0) })
        let comfyui = ComfyUIClient(baseURL: configuration.comfyUIURL, httpClient: httpClient,
                                    quickTimeout: configuration.backendProbeTimeout, logger: logger,
                                    observer: { metrics.backendCall(.comfyui, $0) })
        // Every backend gpuctld manages: a new one is a client, an adapter, and one line here.
        let comfyService = ComfyService(comfyui: comfyui, settleLimit: configuration.freeTimeout)
        let models = ModelService(supervisor: supervisor, ollama: ollama, maximumAnswerBytes: configuration.maximumAnswerBytes)
        let speechAdapter = configuration.ttsURL.map { url in
            SpeechAdapter(client: SpeechClient(baseURL: url, httpClient: httpClient, logger: logger, quickTimeout: configuration.backendProbeTimeout,
                                               speechTimeout: configuration.requestTimeout, observer: { metrics.backendCall(.tts, $0) }),
                          models: catalog.models.filter { $0.backend == .tts }.map { ($0.name, $0.vram.bytes) })
        }
        let speech = SpeechService(supervisor: supervisor, adapter: speechAdapter)
        let backends = BackendRegistry([OllamaAdapter(ollama: ollama), ComfyUIAdapter(service: comfyService)]
                                       + (speechAdapter.map { [$0] } ?? []))
        let jobService = JobService(supervisor: supervisor, comfyui: comfyui)
        let collections = CollectionService(store: store, models: models)
        let pipelines = PipelineService(supervisor: supervisor, models: models, jobs: jobService, collections: collections, speech: speech,
                                        eventLoop: MultiThreadedEventLoopGroup.singleton.next(), logger: logger,
                                        backendWait: configuration.backendWait)
        var serverConfiguration = RPCServerConfiguration(socketPath: configuration.socketPath)
        serverConfiguration.inheritedListener = configuration.systemd.listenFD
        serverConfiguration.peerPolicy = peerPolicy
        serverConfiguration.onRefusal = { metrics.error($0) }
        let idle = configuration.connectionIdleTimeout.components
        serverConfiguration.idleTimeout = .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
        // From here on the HTTP client and the store are open: one cleanup for every way out
        // (an HTTPClient released without shutdown() is a crash in debug builds).
        let server: RPCServer
        var services: [any Service]
        do throws(DaemonStartError) {
            let router = RPCRouter(supervisor: supervisor, models: models, comfy: comfyService, jobs: jobService,
                                   collections: collections, pipelines: pipelines, speech: speech)
            server = try await startServer(configuration: serverConfiguration, router: router, metrics: metrics, logger: logger)
            services = [
                GPUMonitor(probe: probe, supervisor: supervisor, interval: configuration.gpuSampleInterval),
                ModelWorker(work: work, ollama: ollama, backends: backends, supervisor: supervisor,
                            gpu: probe.source.readsProcesses ? probe : nil, logger: logger),
                ComfyJobRunner(comfyui: comfyui, supervisor: supervisor, inputs: runnerInputs, feed: runnerContinuation,
                               clientID: "gpuctld-\(Self.clientSuffix(configuration.stateDirectory))",
                               outputs: JobOutputs(comfyui: comfyui, directory: configuration.outputDirectory, store: store),
                               settings: configuration.jobLifecycle, backlog: runnerBacklog, logger: logger),
                BackendMonitor(backends: backends, supervisor: supervisor,
                               interval: configuration.backendProbeInterval),
                StoreJanitor(store: store, keep: configuration.keepJobs, interval: configuration.storeTidyInterval, logger: logger),
                PipelineRuns(pipelines: pipelines),
                // Last in the list, so it is the first to stop: no new calls while the rest winds down.
                RPCService(server: server, gracePeriod: configuration.shutdownGracePeriod, events: supervisor.events),
            ]
            // A door that cannot be bound stops the start; the socket is closed with it.
            func startDoor(_ address: ListenAddress, what: String, setting: DaemonSetting, door: RequestSource,
                           upgrader: (@Sendable () -> any HTTPServerProtocolUpgrader & Sendable)? = nil,
                           handler: some DoorHandling, maximumBody: Int) async throws(DaemonStartError) {
                do throws(DaemonStartError) {
                    let listener = try await HTTPListener.start(
                        address: address, what: what, setting: setting, upgrader: upgrader,
                        makeHandler: { _ in DoorConnectionHandler(handler: handler, maximumBody: maximumBody) },
                        logger: logger)
                    services.append(listener)
                    await supervisor.setDoorURL(door, "http://\(listener.address)")
                } catch {
                    await server.shutdown(gracePeriod: .zero)
                    throw error
                }
            }
            if let address = configuration.ollamaListen {
                var settings = OllamaDoor.Settings()
                settings.queueTimeout = configuration.ollamaQueueTimeout
                settings.inferenceTimeouts = StreamTimeouts(firstByte: configuration.loadTimeout,
                                                            idle: configuration.streamIdleTimeout,
                                                            total: configuration.requestTimeout)
                settings.passthroughTimeouts.idle = max(configuration.streamIdleTimeout, settings.passthroughTimeouts.idle)
                let door = OllamaDoor(supervisor: supervisor, models: models,
                                      settings: settings, metrics: metrics)
                try await startDoor(address, what: "the Ollama door", setting: .ollamaListen, door: .ollamaDoor,
                                    handler: door, maximumBody: settings.maximumBody)
            }
            if let address = configuration.comfyUIListen {
                let pages = ComfyPageSockets()
                let door = ComfyDoor(supervisor: supervisor, comfyui: comfyui, pages: pages, settings: ComfyDoor.Settings(),
                                     metrics: metrics)
                let relay = PageSocketRelay.Upstream(
                    url: { comfyui.webSocketURL(clientID: $0) }, upgradeTimeout: configuration.backendProbeTimeout * 5,
                    pages: pages, onEvent: { runnerBacklog.feed(.event($0), into: runnerContinuation) }, logger: logger)
                try await startDoor(address, what: "the ComfyUI door", setting: .comfyUIListen, door: .comfyUIDoor,
                                    upgrader: { ComfyDoor.webSocketUpgrader(relay) }, handler: door,
                                    maximumBody: door.settings.maximumBody)
                services.append(ComfyDoorEvents(supervisor: supervisor, pages: pages))
            }
            if let address = configuration.metricsListen {
                do {
                    let metricsServer = try await MetricsHTTPServer.start(
                        address: address, render: { await supervisor.metricsText() }, logger: logger)
                    services.append(metricsServer)
                    await supervisor.setMetricsURL("http://\(metricsServer.address)/metrics")
                } catch {
                    await server.shutdown(gracePeriod: .zero)
                    throw error
                }
            }
        } catch {
            try? await httpClient.shutdown()
            try? store.close()
            throw error
        }
        if let socket = configuration.systemd.notifySocket {
            // After the RPC service, so STOPPING=1 goes out the moment a stop begins.
            services.append(SystemdService(notifier: SystemdNotifier(socketPath: socket), supervisor: supervisor,
                                           statusInterval: configuration.systemdStatusInterval,
                                           watchdogInterval: configuration.systemd.watchdogInterval, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger))
        return Daemon(configuration: configuration, supervisor: supervisor, store: store, lock: lock,
                      httpClient: httpClient, group: group, logger: logger)
    }

    /// The JSON-RPC socket with its handler table (every call metered).
    private static func startServer(configuration: RPCServerConfiguration, router: RPCRouter, metrics: DaemonMetrics,
                                    logger: Logger) async throws(DaemonStartError) -> RPCServer {
        do {
            return try await RPCServer.start(configuration: configuration, handler: MeteredHandler(inner: router, metrics: metrics),
                                             logger: logger)
        } catch let error as SocketFileError {
            throw DaemonStartError(error.message)
        } catch {
            throw DaemonStartError("cannot serve \(configuration.socketPath): \(error)")
        }
    }

    /// Serves until SIGTERM/SIGINT (or `shutdown()`), then closes everything in order.
    public func run() async throws {
        defer { logger.info("gpuctld stopped") }
        do {
            try await group.run()
        } catch {
            logger.error("a daemon service failed: \(error)")
            await finish()
            throw error
        }
        await finish()
    }

    /// Asks the daemon to stop as SIGTERM would.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    private func finish() async {
        try? await httpClient.shutdown()
        do { try store.close() } catch { logger.error("\(error.message)") }
    }

    /// A stable WebSocket client id per state directory, so a restarted daemon recognises the
    /// prompts it queued in ComfyUI before (FNV-1a of the path).
    static func clientSuffix(_ stateDirectory: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in stateDirectory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    /// The workflow templates; a broken one is logged by name with its problems and skipped.
    private static func loadWorkflows(_ configuration: DaemonConfiguration, logger: Logger) -> WorkflowCatalog {
        guard let directory = configuration.workflowsDirectory else { return WorkflowCatalog() }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let workflows = WorkflowCatalog.load(fileNames: names) { FileManager.default.contents(atPath: "\(directory)/\($0)") }
        for broken in workflows.broken {
            logger.warning("workflow template skipped: \(broken.description)", metadata: ["workflow.name": "\(broken.workflow)"])
        }
        return workflows
    }

    private static func loadCatalog(_ configuration: DaemonConfiguration) throws(DaemonStartError) -> Catalog {
        guard let path = configuration.catalogPath else { return .empty }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DaemonStartError("the catalog \(path) is not a file; check the path given with --config / GPUCTL_CONFIG")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DaemonStartError("cannot read the catalog \(path) (\(String(cString: strerror(errno)))); check that the daemon's user may read it")
        }
        do {
            return try CatalogParser.parse(data, file: path)
        } catch {
            throw DaemonStartError(error.description)
        }
    }
}
