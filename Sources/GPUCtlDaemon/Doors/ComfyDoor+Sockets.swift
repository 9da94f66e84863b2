import ComfyUIClient
import Foundation
import GPUCtlModels
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceLifecycle

extension ComfyDoor {
    /// The largest WebSocket message relayed (a sampler preview is well under it).
    static let maximumFrame = 16 << 20

    /// Accepts a WebSocket upgrade on `/ws` and `/api/ws` and relays it (`PageSocketRelay`);
    /// other upgrade requests stay HTTP and pass on.
    static func webSocketUpgrader(_ upstream: PageSocketRelay.Upstream) -> NIOWebSocketServerUpgrader {
        NIOWebSocketServerUpgrader(
            maxFrameSize: maximumFrame, automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
                let allowed = ComfyDoorRoute.isWebSocket(path)
                    && !ComfyDoorRoute.isCrossOrigin(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"))
                return channel.eventLoop.makeSucceededFuture(allowed ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: maximumFrame))
                    try channel.pipeline.syncOperations.addHandler(
                        PageSocketRelay(upstream: upstream, clientID: ComfyDoorRoute.clientID(inURI: head.uri)))
                }
            })
    }
}

/// Keeps the pages behind the ComfyUI door told what waits in gpuctld: a `status` message to
/// every page when the number of waiting jobs changes, and an `execution_error` to a page
/// whose prompt ended without reaching ComfyUI (refused at submission, or never fitting), which
/// ComfyUI itself would have answered with a 400 or an error of its own.
struct ComfyDoorEvents: Service {
    let supervisor: Supervisor
    let pages: ComfyPageSockets

    func run() async throws {
        let events = supervisor.events.subscribe(filter: [DaemonEvent.Kind.jobState.rawValue])
        _ = pages.waitingChanged(to: supervisor.waitingJobs().count)
        await cancelWhenGracefulShutdown {
            var ran = Set<String>()
            for await event in events {
                guard event.type == .jobState, let job = event.job,
                      let state = event.state.flatMap(JobState.init(rawValue:)) else { continue }
                if state == .running { ran.insert(job) }
                if state == .failed, !ran.contains(job), let record = supervisor.storedJob(job) {
                    let spec = JobSpec(record)
                    if spec.source == .comfyUIDoor, let client = spec.clientID {
                        pages.send(PageQueueView.executionError(promptID: job, message: event.error ?? "the job failed"),
                                   toClient: client)
                    }
                }
                if state.isFinal { ran.remove(job) }
                if pages.waitingChanged(to: supervisor.waitingJobs().count) {
                    pages.broadcast(PageQueueView.statusMessage(remaining: pages.remaining))
                }
            }
        }
    }
}
