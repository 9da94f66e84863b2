import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore

extension Supervisor {
    /// Writes a new pipeline run (queued) and says so; it never waits in the Scheduler's line
    /// itself (its steps do, each as the work it is).
    nonisolated func enqueuePipeline(_ record: JobRecord) async throws -> JobInfo {
        try await insert(record, what: "the pipeline run")
        events.publish(DaemonEvent(.jobState, job: record.id, state: JobState.queued.rawValue))
        return await info(record)
    }

    /// A run as `jobs.list` shows it: its pipeline, and its result once it succeeded.
    func pipelineInfo(_ record: JobRecord) -> JobInfo {
        var info = JobInfo(id: record.id, state: record.state.rawValue, jobClass: record.jobClass.rawValue, workflow: nil,
                           promptId: nil, attempts: record.attempts, vram: ByteSize(bytes: 0), timeoutSeconds: record.timeoutSeconds,
                           createdAt: record.createdAt.formatted(.iso8601), updatedAt: record.updatedAt.formatted(.iso8601),
                           error: record.error)
        info.pipeline = record.workflow
        info.result = record.result.flatMap { try? JSONParser.parse(Data($0.utf8)) }
        return info
    }

    /// Its steps as the store has them, in the order they started.
    func pipelineSteps(_ record: JobRecord) -> [PipelineStepInfo] {
        let definition = (try? JSONParser.parse(Data(record.params.utf8)))?["definition"]
        let steps = definition?["steps"]?.arrayValue ?? []
        func field(_ id: String, _ key: String) -> JSONValue? { steps.first { $0["id"]?.stringValue == id }?[key] }
        return ((try? store.pipelineSteps(jobID: record.id)) ?? []).map { step in
            PipelineStepInfo(
                step: step.step, item: step.item < 0 ? nil : step.item, state: step.state.rawValue,
                kind: field(step.step, "kind")?.stringValue ?? "", job: step.childJob, attempts: step.attempts,
                startedAt: step.startedAt?.formatted(.iso8601), endedAt: step.endedAt?.formatted(.iso8601),
                elapsedMs: zip(step.startedAt, step.endedAt).map { (($1.timeIntervalSince($0) * 1_000_000).rounded() / 1000) },
                output: step.output.flatMap { try? JSONParser.parse(Data($0.utf8)) }, error: step.error,
                optional: field(step.step, "optional")?.boolValue ?? false)
        }
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
