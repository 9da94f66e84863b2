import Foundation
import GPUCtlModels
import GRDB

extension JobStore {
    /// Writes a new job and its first event in one transaction. Cached statements rather than
    /// GRDB's record persistence: this is the durable half of every submission, and the generic
    /// path cost three times what SQLite itself does (issue 4's enqueue bench).
    public func insert(_ job: JobRecord) throws(StoreError) {
        try insert([job])
    }

    /// Writes new jobs, each with its first event, in one transaction.
    public func insert(_ jobs: [JobRecord]) throws(StoreError) {
        try write(jobs.count == 1 ? "add a job" : "add \(jobs.count) jobs") { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO jobs (id, kind, class, params, workflow, vram_bytes, timeout_seconds, state, prompt_id, attempts,
                                  created_at, updated_at, result, error)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for job in jobs {
                try statement.execute(arguments: [job.id, job.kind.rawValue, job.jobClass.rawValue, job.params, job.workflow,
                                                  Int64(clamping: job.vramBytes), job.timeoutSeconds, job.state.rawValue,
                                                  job.promptID, job.attempts, StoreDate.text(job.createdAt), StoreDate.text(job.updatedAt),
                                                  job.result, job.error])
                try Self.addEvent(db, jobID: job.id, at: job.createdAt, state: job.state, message: nil)
            }
        }
    }

    /// `insert`, for callers that may arrive together (submissions): written with whatever
    /// else is waiting, in one commit; returns once this job is written.
    public func insertGrouped(_ job: JobRecord) async throws(StoreError) {
        do {
            try await groupCommit.insert(job, into: self)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("could not add a job in the store at \(path): \(error)")
        }
    }

    private static func addEvent(_ db: Database, jobID: String, at: Date, state: JobState, message: String?) throws {
        try db.cachedStatement(sql: "INSERT INTO job_events (job_id, at, state, message) VALUES (?, ?, ?, ?)")
            .execute(arguments: [jobID, StoreDate.text(at), state.rawValue, message])
    }

    /// Moves a job to `state`, recording the change as an event. Final states never change:
    /// a late update to a finished job is refused.
    @discardableResult
    public func transition(jobID: String, to state: JobState, error: String? = nil, result: String? = nil,
                           countAttempt: Bool = false, at now: Date = Date()) throws(StoreError) -> JobRecord {
        try write("update a job") { db in
            try Self.transition(db, jobID: jobID, to: state, error: error, result: result, countAttempt: countAttempt, at: now)
        }
    }

    /// One state change and its event; final states never change.
    private static func transition(_ db: Database, jobID: String, to state: JobState, error: String?, result: String?,
                                   countAttempt: Bool, at now: Date) throws -> JobRecord {
        guard var job = try Self.job(db, id: jobID) else { throw StoreError("job \(jobID) does not exist") }
        guard !job.state.isFinal else { throw StoreError("job \(jobID) already ended as \(job.state.rawValue)") }
        job.state = state
        job.updatedAt = now
        if let error { job.error = error }
        if let result { job.result = result }
        if countAttempt { job.attempts += 1 }
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, updated_at = ?, error = ?, result = ?, attempts = ? WHERE id = ?
            """).execute(arguments: [job.state.rawValue, StoreDate.text(now), job.error, job.result, job.attempts, jobID])
        try addEvent(db, jobID: jobID, at: now, state: state, message: error)
        return job
    }

    /// `transition`, written on the store's own writer: the caller is suspended, not blocked
    /// (the Supervisor's actor never waits on SQLite for a state change).
    public func transitionWaiting(jobID: String, to state: JobState, error: String? = nil, result: String? = nil,
                                  countAttempt: Bool = false) async throws(StoreError) -> JobRecord {
        do {
            return try await writer.write { db in
                try Self.transition(db, jobID: jobID, to: state, error: error, result: result, countAttempt: countAttempt, at: Date())
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("could not update a job in the store at \(path): \(error)")
        }
    }

    /// The card ran out of memory under the job: it goes back to `queued` under a new prompt id
    /// (ComfyUI keeps the failed one in its history), charged `vramBytes`, its retry counted.
    public func retryAfterOutOfMemory(jobID: String, promptID: String, vramBytes: UInt64,
                                      message: String) async throws(StoreError) -> JobRecord {
        do {
            return try await writer.write { db in
                guard var job = try Self.job(db, id: jobID) else { throw StoreError("job \(jobID) does not exist") }
                guard !job.state.isFinal else { throw StoreError("job \(jobID) already ended as \(job.state.rawValue)") }
                let now = Date()
                (job.state, job.updatedAt, job.promptID, job.vramBytes) = (.queued, now, promptID, vramBytes)
                job.memoryRetries += 1
                try db.cachedStatement(sql: """
                    UPDATE jobs SET state = ?, updated_at = ?, prompt_id = ?, vram_bytes = ?, memory_retries = ? WHERE id = ?
                    """).execute(arguments: [job.state.rawValue, StoreDate.text(now), promptID, Int64(clamping: vramBytes),
                                             job.memoryRetries, jobID])
                // The job's error stays empty: it has not failed. The event says why it waits again.
                try Self.addEvent(db, jobID: jobID, at: now, state: .queued, message: message)
                return job
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("could not put job \(jobID) back in line in the store at \(path): \(error)")
        }
    }

    public func job(id: String) throws(StoreError) -> JobRecord? {
        try read("read job \(id)") { db in try Self.job(db, id: id) }
    }

    /// One compiled statement for every lookup by id (GRDB's `fetchOne(key:)` writes its SQL anew).
    private static func job(_ db: Database, id: String) throws -> JobRecord? {
        try JobRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [id])
    }

    /// Jobs in any of `states`, oldest first.
    public func jobs(in states: [JobState]) throws(StoreError) -> [JobRecord] {
        let names = states.map(\.rawValue)
        return try read("list jobs") { db in
            try JobRecord.filter(names.contains(Column("state"))).order(Column("created_at")).fetchAll(db)
        }
    }

    /// The newest `limit` jobs, optionally only those in `states`.
    public func recentJobs(limit: Int, states: [JobState]? = nil) throws(StoreError) -> [JobRecord] {
        let names = states?.map(\.rawValue)
        return try read("list jobs") { db in
            var request = JobRecord.all()
            if let names { request = request.filter(names.contains(Column("state"))) }
            return try request.order(Column("created_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// Results of succeeded jobs that mention `text` (a ComfyUI file name), newest first.
    public func succeededResults(mentioning text: String, limit: Int = 20) throws(StoreError) -> [String] {
        try read("find earlier outputs") { db in
            try String.fetchAll(db, sql: """
                SELECT result FROM jobs WHERE state = 'succeeded' AND instr(result, ?) > 0
                ORDER BY updated_at DESC LIMIT ?
                """, arguments: [text, limit])
        }
    }

    public func events(jobID: String) throws(StoreError) -> [JobEventRecord] {
        try read("read events of job \(jobID)") { db in
            try JobEventRecord.filter(Column("job_id") == jobID).order(Column("id")).fetchAll(db)
        }
    }

    /// How many jobs are in each state: queued counts everything not yet running.
    public func jobCounts() throws(StoreError) -> JobCounts {
        let rows = try read("count jobs") { db in
            try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM jobs GROUP BY state")
                .map { (row: Row) -> (String, Int) in (row["state"], row["n"]) }
        }
        var counts = JobCounts()
        for (name, count) in rows {
            switch JobState(rawValue: name) {
            case .queued?, .admitted?: counts.queued += count
            case .submitted?, .running?: counts.running += count
            case .succeeded?: counts.succeeded += count
            case .failed?: counts.failed += count
            case .cancelled?: counts.cancelled += count
            case nil: break
            }
        }
        return counts
    }
}

extension JobStore {
    /// Records what `subject` actually took; the peak only grows.
    @discardableResult
    public func recordFootprint(subject: String, bytes: UInt64, at now: Date = Date()) throws(StoreError) -> FootprintRecord {
        let measured = Int64(clamping: bytes)
        return try write("record the footprint of \(subject)") { db in
            var record = try FootprintRecord.fetchOne(db, key: subject)
                ?? FootprintRecord(subject: subject, bytes: measured, peakBytes: measured, samples: 0, updatedAt: now)
            record.bytes = measured
            record.peakBytes = max(record.peakBytes, measured)
            record.samples += 1
            record.updatedAt = now
            try record.save(db)
            return record
        }
    }

    public func footprint(subject: String) throws(StoreError) -> FootprintRecord? {
        try read("read the footprint of \(subject)") { db in try FootprintRecord.fetchOne(db, key: subject) }
    }
}
