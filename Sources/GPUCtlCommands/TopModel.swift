import Foundation
import GPUCtlModels

/// What `gpuctl top` shows: the last snapshot (status, models, open jobs) and what events said
/// since. A value: the screen is `TopRenderer.render(model, …)`.
public struct TopModel: Sendable {
    public var status: StatusResult?
    public var models: ModelsListResult?
    /// Jobs not yet ended, oldest first.
    public var jobs: [JobInfo] = []
    /// The latest events, newest last (at most `eventLimit`).
    public var events: [DaemonEvent] = []
    /// Why the daemon cannot be followed now; nil while it is.
    public var problem: String?

    public static let eventLimit = 50

    public init() {}

    /// Takes in one event: kept for the log; progress and state go to the job they name at
    /// once, so a bar moves without waiting for the next snapshot.
    public mutating func apply(_ event: DaemonEvent) {
        guard event.type != .subscribed else { return }
        // Progress arrives many times a second: it moves the bar, the log keeps only changes.
        if event.type != .jobProgress {
            events.append(event)
            if events.count > Self.eventLimit { events.removeFirst(events.count - Self.eventLimit) }
        }
        guard let id = event.job, let index = jobs.firstIndex(where: { $0.id == id }) else { return }
        if let progress = event.progress { jobs[index].progress = progress }
        if let state = event.state { jobs[index].state = state }
    }

    /// Whether an event changes more than a progress bar (so a new snapshot is worth asking for).
    public static func needsSnapshot(after event: DaemonEvent) -> Bool {
        event.type != .jobProgress && event.type != .subscribed
    }

    /// Replaces the snapshot; progress already heard for a job is kept when the snapshot has none.
    public mutating func take(status: StatusResult, models: ModelsListResult, jobs newJobs: [JobInfo]) {
        let heard = Dictionary(jobs.compactMap { job in job.progress.map { (job.id, $0) } }, uniquingKeysWith: { $1 })
        self.status = status
        self.models = models
        self.jobs = newJobs.map { job in
            var job = job
            if job.progress == nil, let progress = heard[job.id] { job.progress = progress }
            return job
        }
        problem = nil
    }
}
