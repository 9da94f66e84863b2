import Foundation
import GPUCtlModels
import GRDB

/// One row of `jobs`: a unit of GPU work gpuctld owns from submission to its final state.
public struct JobRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"

    public var id: String
    public var kind: JobKind
    public var jobClass: JobClass
    /// The request as JSON: the graph to run and, for a workflow, the values it was given.
    public var params: String
    /// The workflow template the graph came from; nil for a raw graph.
    public var workflow: String?
    /// The VRAM the job is charged while it runs.
    public var vramBytes: UInt64
    /// How long it may run in ComfyUI before it is interrupted.
    public var timeoutSeconds: Double
    public var state: JobState
    /// The prompt_id gpuctld chose for ComfyUI, stored before it is submitted.
    public var promptID: String?
    public var attempts: Int
    /// Times it went back in line because the card ran out of memory (at most once).
    public var memoryRetries = 0
    public var createdAt: Date
    public var updatedAt: Date
    public var result: String?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, jobClass = "class", params, workflow, vramBytes = "vram_bytes", timeoutSeconds = "timeout_seconds"
        case state, promptID = "prompt_id", attempts, memoryRetries = "memory_retries"
        case createdAt = "created_at", updatedAt = "updated_at", result, error
    }

    public init(id: String = UUID().uuidString.lowercased(), kind: JobKind, jobClass: JobClass, params: String,
                workflow: String? = nil, vramBytes: UInt64 = 0, timeoutSeconds: Double = 3600, state: JobState = .queued, promptID: String? = nil, attempts: Int = 0,
                createdAt: Date = Date(), updatedAt: Date? = nil, result: String? = nil, error: String? = nil) {
        self.id = id
        self.kind = kind
        self.jobClass = jobClass
        self.params = params
        self.workflow = workflow
        self.vramBytes = vramBytes
        self.timeoutSeconds = timeoutSeconds
        self.state = state
        self.promptID = promptID
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.result = result
        self.error = error
    }

    /// Read by hand, as it is written: Codable's decoder was most of the cost of a lookup.
    public init(row: Row) throws {
        id = row["id"]
        // The schema's CHECKs hold these to known values; a newer gpuctld's row is refused.
        func known<T: RawRepresentable<String>>(_ column: String) throws -> T {
            let text: String = row[column]
            guard let value = T(rawValue: text) else { throw StoreError("job \(row["id"] as String) has \(column) '\(text)', which this gpuctld does not know") }
            return value
        }
        kind = try known("kind")
        jobClass = try known("class")
        params = row["params"]
        workflow = row["workflow"]
        vramBytes = UInt64(max(0, row["vram_bytes"] as Int64))
        timeoutSeconds = row["timeout_seconds"]
        state = try known("state")
        promptID = row["prompt_id"]
        attempts = row["attempts"]
        memoryRetries = row["memory_retries"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        result = row["result"]
        error = row["error"]
    }

    /// Written by hand: Codable's encoder cost a third of a submission (issue 4's enqueue bench).
    public func encode(to container: inout PersistenceContainer) {
        container["id"] = id
        container["kind"] = kind.rawValue
        container["class"] = jobClass.rawValue
        container["params"] = params
        container["workflow"] = workflow
        container["vram_bytes"] = Int64(clamping: vramBytes)
        container["timeout_seconds"] = timeoutSeconds
        container["state"] = state.rawValue
        container["prompt_id"] = promptID
        container["attempts"] = attempts
        container["memory_retries"] = memoryRetries
        container["created_at"] = createdAt
        container["updated_at"] = updatedAt
        container["result"] = result
        container["error"] = error
    }
}

/// One row of `job_events`: a state change or a progress report of a job.
public struct JobEventRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_events"

    public var id: Int64?
    public var jobID: String
    public var at: Date
    public var state: JobState?
    public var progress: Double?
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case id, jobID = "job_id", at, state, progress, message
    }

    public init(jobID: String, at: Date = Date(), state: JobState? = nil, progress: Double? = nil, message: String? = nil) {
        self.jobID = jobID
        self.at = at
        self.state = state
        self.progress = progress
        self.message = message
    }

    /// Written by hand, as JobRecord's.
    public func encode(to container: inout PersistenceContainer) {
        container["id"] = id
        container["job_id"] = jobID
        container["at"] = at
        container["state"] = state?.rawValue
        container["progress"] = progress
        container["message"] = message
    }
}

/// One row of `footprints`: what a model or workflow actually took on the card.
public struct FootprintRecord: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "footprints"

    /// `ollama:llama3.1:8b`, `workflow:txt2img`, …
    public var subject: String
    /// The latest measurement.
    public var bytes: Int64
    /// The largest measurement seen.
    public var peakBytes: Int64
    public var samples: Int
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case subject, bytes, peakBytes = "peak_bytes", samples, updatedAt = "updated_at"
    }
}
