import GRDB

extension JobStore {
    /// Every schema change, in order. A shipped migration is never edited: add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs, job_events, footprints") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('comfyui', 'ollama')),
                    class TEXT NOT NULL CHECK (class IN ('interactive', 'batch')),
                    params TEXT NOT NULL CHECK (json_valid(params)),
                    state TEXT NOT NULL CHECK (state IN ('queued', 'admitted', 'submitted', 'running',
                                                         'succeeded', 'failed', 'cancelled')),
                    prompt_id TEXT UNIQUE,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    created_at DATETIME NOT NULL,
                    updated_at DATETIME NOT NULL,
                    result TEXT CHECK (result IS NULL OR json_valid(result)),
                    error TEXT
                );
                CREATE INDEX jobs_by_state ON jobs(state, created_at);
                CREATE TABLE job_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    at DATETIME NOT NULL,
                    state TEXT CHECK (state IS NULL OR state IN ('queued', 'admitted', 'submitted', 'running',
                                                                  'succeeded', 'failed', 'cancelled')),
                    progress REAL CHECK (progress IS NULL OR (progress >= 0 AND progress <= 1)),
                    message TEXT
                );
                CREATE INDEX job_events_by_job ON job_events(job_id, id);
                CREATE TABLE footprints (
                    subject TEXT PRIMARY KEY NOT NULL,
                    bytes INTEGER NOT NULL CHECK (bytes >= 0),
                    peak_bytes INTEGER NOT NULL CHECK (peak_bytes >= bytes),
                    samples INTEGER NOT NULL CHECK (samples >= 1),
                    updated_at DATETIME NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: a job's workflow, vram and timeout as columns") { db in
            // Read from params once here, so listing or restoring jobs never parses a graph.
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN workflow TEXT;
                ALTER TABLE jobs ADD COLUMN vram_bytes INTEGER NOT NULL DEFAULT 0 CHECK (vram_bytes >= 0);
                ALTER TABLE jobs ADD COLUMN timeout_seconds REAL NOT NULL DEFAULT 3600 CHECK (timeout_seconds > 0);
                UPDATE jobs SET
                    workflow = json_extract(params, '$.workflow'),
                    vram_bytes = max(0, CAST(coalesce(json_extract(params, '$.vram'), 0) AS INTEGER)),
                    timeout_seconds = CASE WHEN json_extract(params, '$.timeout') > 0
                                           THEN json_extract(params, '$.timeout') ELSE 3600 END;
                """)
        }
        migrator.registerMigration("v3: retries after the card ran out of memory") { db in
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN memory_retries INTEGER NOT NULL DEFAULT 0 CHECK (memory_retries >= 0);
                """)
        }
        migrator.registerMigration("v4: collections of embedded texts") { db in
            // A vector is little-endian float32s: its length must be the collection's dimensions
            // times 4, which a CHECK cannot see across tables, so a trigger holds it.
            try db.execute(sql: """
                CREATE TABLE collections (
                    name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
                    model TEXT NOT NULL CHECK (length(model) > 0),
                    dimensions INTEGER NOT NULL CHECK (dimensions BETWEEN 1 AND 65536),
                    created_at DATETIME NOT NULL
                );
                CREATE TABLE collection_items (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
                    text TEXT NOT NULL,
                    metadata TEXT CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
                    vector BLOB NOT NULL,
                    created_at DATETIME NOT NULL
                );
                CREATE INDEX collection_items_by_collection ON collection_items(collection, id);
                CREATE TRIGGER collection_items_dimensions BEFORE INSERT ON collection_items
                WHEN length(NEW.vector) != 4 * (SELECT dimensions FROM collections WHERE name = NEW.collection)
                BEGIN SELECT RAISE(ABORT, 'a vector of another length than its collection''s dimensions'); END;
                """)
        }
        migrator.registerMigration("v5: pipeline runs and their steps") { db in
            // A CHECK cannot be altered in SQLite: the jobs table is rebuilt with 'pipeline' as a
            // kind (GRDB runs migrations with foreign keys off, and checks them after).
            try db.execute(sql: """
                CREATE TABLE jobs_v5 (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('comfyui', 'ollama', 'pipeline')),
                    class TEXT NOT NULL CHECK (class IN ('interactive', 'batch')),
                    params TEXT NOT NULL CHECK (json_valid(params)),
                    state TEXT NOT NULL CHECK (state IN ('queued', 'admitted', 'submitted', 'running',
                                                         'succeeded', 'failed', 'cancelled')),
                    prompt_id TEXT UNIQUE,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    created_at DATETIME NOT NULL,
                    updated_at DATETIME NOT NULL,
                    result TEXT CHECK (result IS NULL OR json_valid(result)),
                    error TEXT,
                    workflow TEXT,
                    vram_bytes INTEGER NOT NULL DEFAULT 0 CHECK (vram_bytes >= 0),
                    timeout_seconds REAL NOT NULL DEFAULT 3600 CHECK (timeout_seconds > 0),
                    memory_retries INTEGER NOT NULL DEFAULT 0 CHECK (memory_retries >= 0)
                );
                INSERT INTO jobs_v5 (id, kind, class, params, state, prompt_id, attempts, created_at, updated_at, result, error,
                                     workflow, vram_bytes, timeout_seconds, memory_retries)
                    SELECT id, kind, class, params, state, prompt_id, attempts, created_at, updated_at, result, error,
                           workflow, vram_bytes, timeout_seconds, memory_retries FROM jobs;
                DROP TABLE jobs;
                ALTER TABLE jobs_v5 RENAME TO jobs;
                CREATE INDEX jobs_by_state ON jobs(state, created_at);
                CREATE TABLE pipeline_steps (
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    step TEXT NOT NULL,
                    item INTEGER NOT NULL DEFAULT -1 CHECK (item >= -1),
                    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'skipped')),
                    child_job TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    output TEXT CHECK (output IS NULL OR json_valid(output)),
                    error TEXT,
                    started_at DATETIME,
                    ended_at DATETIME,
                    PRIMARY KEY (job_id, step, item)
                );
                """)
        }
        return migrator
    }
}
