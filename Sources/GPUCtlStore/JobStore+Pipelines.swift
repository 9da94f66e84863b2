import Foundation
import GPUCtlModels
import GRDB

/// One step (or fan-out item) of a pipeline run, as the store keeps it: written as it starts
/// and as it ends, so a restart knows what is done and what was cut off.
public struct PipelineStepRecord: Sendable, Equatable {
    public enum State: String, Sendable { case running, succeeded, failed, skipped }

    public var jobID: String
    public var step: String
    /// -1 for a step that runs once.
    public var item: Int
    public var state: State
    /// The ComfyUI job a comfy step queued (chosen and written before it is queued).
    public var childJob: String?
    public var attempts: Int
    /// JSON text of its outputs.
    public var output: String?
    public var error: String?
    public var startedAt: Date?
    public var endedAt: Date?
}

extension JobStore {
    /// Every recorded step of a run, in the order they started.
    public func pipelineSteps(jobID: String) throws(StoreError) -> [PipelineStepRecord] {
        try read("read the steps of pipeline run \(jobID)") { db in
            try Row.fetchAll(db, sql: """
                SELECT job_id, step, item, state, child_job, attempts, output, error, started_at, ended_at
                FROM pipeline_steps WHERE job_id = ? ORDER BY started_at, rowid
                """, arguments: [jobID]).map { row in
                PipelineStepRecord(jobID: row[0], step: row[1], item: row[2], state: PipelineStepRecord.State(rawValue: row[3]) ?? .failed,
                                   childJob: row[4], attempts: row[5], output: row[6], error: row[7], startedAt: row[8], endedAt: row[9])
            }
        }
    }

    /// A step starts (again): running, one more attempt, with the ComfyUI job it will queue.
    @discardableResult
    public func startPipelineStep(jobID: String, step: String, item: Int, childJob: String?, at now: Date = Date()) throws(StoreError) -> Int {
        try write("record a pipeline step") { db in
            try db.execute(sql: """
                INSERT INTO pipeline_steps (job_id, step, item, state, child_job, attempts, started_at)
                VALUES (?, ?, ?, 'running', ?, 1, ?)
                ON CONFLICT (job_id, step, item) DO UPDATE SET
                    state = 'running', child_job = excluded.child_job, attempts = attempts + 1,
                    output = NULL, error = NULL, started_at = excluded.started_at, ended_at = NULL
                """, arguments: [jobID, step, item, childJob, StoreDate.text(now)])
            return try Int.fetchOne(db, sql: "SELECT attempts FROM pipeline_steps WHERE job_id = ? AND step = ? AND item = ?",
                                    arguments: [jobID, step, item]) ?? 1
        }
    }

    /// A step ended: succeeded with its outputs, failed with why, or skipped.
    public func finishPipelineStep(jobID: String, step: String, item: Int, state: PipelineStepRecord.State, output: String?,
                                   error: String?, at now: Date = Date()) throws(StoreError) {
        try write("record a pipeline step's end") { db in
            try db.execute(sql: """
                INSERT INTO pipeline_steps (job_id, step, item, state, output, error, started_at, ended_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (job_id, step, item) DO UPDATE SET
                    state = excluded.state, output = excluded.output, error = excluded.error, ended_at = excluded.ended_at
                """, arguments: [jobID, step, item, state.rawValue, output, error, StoreDate.text(now), StoreDate.text(now)])
        }
    }
}
