import Foundation
import GPUCtlModels
import GRDB

/// The daemon's one store: jobs, their events, and learned footprints, in SQLite (WAL,
/// synchronous=NORMAL) under the state directory. Constraints live in the schema; every
/// migration runs at open.
public final class JobStore: Sendable {
    /// The database file's name inside the state directory.
    public static let fileName = "gpuctl.sqlite"

    let writer: any DatabaseWriter
    let groupCommit = GroupCommit()
    /// The database file's path.
    public let path: String

    /// Opens (or creates) the store in `directory`, creating the directory if needed.
    /// A directory that cannot be written or a file that is not a usable database is a
    /// `StoreError` naming the path and the fix, never a crash.
    public init(directory: String) throws(StoreError) {
        try Self.prepare(directory: directory)
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
            try pool.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") }
            self.writer = pool
        } catch {
            throw StoreError(Self.explain(error, path: path))
        }
    }

    /// An in-memory store, for tests and benchmarks.
    public init(inMemory: Void = ()) throws(StoreError) {
        path = ":memory:"
        do {
            let queue = try DatabaseQueue()
            try Self.migrator.migrate(queue)
            writer = queue
        } catch {
            throw StoreError("could not create an in-memory store: \(error)")
        }
    }

    /// Closes the database; later calls fail.
    public func close() throws(StoreError) {
        do {
            if let pool = writer as? DatabasePool { try pool.close() }
            if let queue = writer as? DatabaseQueue { try queue.close() }
        } catch {
            throw StoreError("could not close the store at \(path): \(error)")
        }
    }

    /// Creates the state directory (0750) if it is missing and checks that it can be written;
    /// each problem is one sentence that says what to do.
    public static func prepare(directory: String) throws(StoreError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StoreError("the state directory \(directory) is a file, not a directory; pass --state-dir with a directory gpuctld may write")
            }
        } else {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o750])
            } catch {
                throw StoreError("cannot create the state directory \(directory) (\(Self.reason(error))); create it and give the daemon's user write access, or pass --state-dir")
            }
        }
        guard manager.isWritableFile(atPath: directory) else {
            throw StoreError("the state directory \(directory) is not writable by this user; give the daemon's user write access, or pass --state-dir")
        }
    }

    private static func explain(_ error: Error, path: String) -> String {
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return "the store \(path) is damaged or not a SQLite database (\(error.message ?? "corrupt")); move it aside (mv \(path) \(path).broken) and restart, and gpuctld will start a new one"
            case .SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_IOERR:
                return "cannot open the store \(path) (\(error.message ?? "\(error.resultCode)")); check that the daemon's user can write it and its directory"
            default:
                return "cannot open the store \(path): \(error.message ?? "\(error)")"
            }
        }
        return "cannot open the store \(path): \(error)"
    }

    private static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }

    /// Runs a write transaction, turning database errors into one readable sentence.
    func write<T: Sendable>(_ what: String, _ body: @Sendable (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError("could not \(what) in the store at \(path): \(error)")
        }
    }

    func read<T: Sendable>(_ what: String, _ body: @Sendable (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw StoreError("could not \(what) from the store at \(path): \(error)")
        }
    }
}

extension JobStore {
    /// SQLite's `PRAGMA integrity_check`: `ok`, or what is wrong with the file.
    public func integrityCheck() throws(StoreError) -> String {
        try read("check the store") { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }
}
