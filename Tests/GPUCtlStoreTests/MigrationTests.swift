import Foundation
import GPUCtlModels
import GPUCtlStore
import GRDB
import Testing

/// A store written by an earlier gpuctld opens with every job as it was.
@Suite(.timeLimit(.minutes(3))) struct MigrationTests {
    /// v1's jobs table, as shipped (with only the migration GRDB recorded for it).
    static let v1Schema = """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1: jobs, job_events, footprints');
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, class TEXT NOT NULL,
            params TEXT NOT NULL CHECK (json_valid(params)), state TEXT NOT NULL, prompt_id TEXT UNIQUE,
            attempts INTEGER NOT NULL DEFAULT 0, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
            result TEXT, error TEXT);
        CREATE TABLE job_events (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, at DATETIME NOT NULL,
            state TEXT, progress REAL, message TEXT);
        CREATE TABLE footprints (subject TEXT PRIMARY KEY NOT NULL, bytes INTEGER NOT NULL, peak_bytes INTEGER NOT NULL,
            samples INTEGER NOT NULL, updated_at DATETIME NOT NULL);
        """

    @Test func v1JobsGetTheirWorkflowVRAMAndTimeoutAsColumns() throws {
        let directory = NSTemporaryDirectory() + "gpuctl-migrate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queue = try DatabaseQueue(path: directory + "/" + JobStore.fileName)
        try queue.write { db in
            try db.execute(sql: Self.v1Schema)
            let insert = """
                INSERT INTO jobs (id, kind, class, params, state, prompt_id, attempts, created_at, updated_at)
                VALUES (?, 'comfyui', 'batch', ?, 'queued', ?, 0, '2026-11-01 10:00:00.000', '2026-11-01 10:00:00.000')
                """
            try db.execute(sql: insert, arguments: ["w", #"{"workflow":"txt2img","vram":4294967296,"timeout":120,"graph":{}}"#, "w"])
            try db.execute(sql: insert, arguments: ["g", #"{"graph":{"1":{}},"vram":0,"timeout":30.5}"#, "g"])
            try db.execute(sql: insert, arguments: ["odd", #"{"vram":-5,"timeout":0}"#, "odd"])
        }
        try queue.close()

        let store = try JobStore(directory: directory)
        let workflow = try #require(try store.job(id: "w"))
        #expect(workflow.workflow == "txt2img" && workflow.vramBytes == 4 << 30 && workflow.timeoutSeconds == 120)
        let graph = try #require(try store.job(id: "g"))
        #expect(graph.workflow == nil && graph.vramBytes == 0 && graph.timeoutSeconds == 30.5)
        // Values no gpuctld wrote are held to the columns' constraints, not refused.
        let odd = try #require(try store.job(id: "odd"))
        #expect(odd.vramBytes == 0 && odd.timeoutSeconds == 3600)
    }

    @Test func newJobsKeepTheirColumns() throws {
        let store = try JobStore()
        let job = JobRecord(kind: .comfyui, jobClass: .interactive, params: #"{"graph":{}}"#, workflow: "upscale",
                            vramBytes: 3 << 30, timeoutSeconds: 90)
        try store.insert(job)
        let stored = try #require(try store.job(id: job.id))
        #expect(stored.workflow == "upscale" && stored.vramBytes == 3 << 30 && stored.timeoutSeconds == 90)
    }
}
