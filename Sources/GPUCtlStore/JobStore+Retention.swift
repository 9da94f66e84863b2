import GRDB

extension JobStore {
    /// Forgets finished jobs (succeeded, failed, cancelled) beyond the newest `keep`, with their
    /// events; returns how many went. Unfinished jobs are never touched, and output files are
    /// not the store's: they stay where they were saved.
    @discardableResult
    public func forgetFinishedJobs(keeping keep: Int) throws(StoreError) -> Int {
        try write("forget old finished jobs") { db in
            try db.execute(sql: """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                    ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?)
                """, arguments: [max(0, keep)])
            return db.changesCount
        }
    }
}
