import Foundation

/// One job's output folder (`<output-dir>/<job id>`), opened once, with every file written
/// relative to it: a name is one component (`OutputNames`), the folder itself and the files
/// are opened without following links, and each file is written as `NAME.partial` (created
/// fresh, never through an existing file or link) and renamed, so a crash never leaves half a
/// file under its real name and a job finalized twice (after a restart) rewrites its folder.
struct OutputFolder {
    let path: String
    private let descriptor: Int32

    init(directory: String, jobID: String) throws {
        guard OutputNames.isPlain(jobID) else { throw OutputError(message: "job id '\(jobID)' cannot name a folder") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent(jobID)
        if mkdir(path, 0o755) != 0, errno != EEXIST {
            throw OutputError(message: "cannot create \(path): \(String(cString: strerror(errno))); check --output-dir")
        }
        descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OutputError(message: "cannot open \(path): \(String(cString: strerror(errno))) (a link is refused); check --output-dir")
        }
    }

    func close() { Glibc.close(descriptor) }

    /// Writes `data` as `name` in the folder; returns its path.
    func write(_ data: Data, as name: String) throws -> String {
        guard OutputNames.isPlain(name) else { throw OutputError(message: "'\(name)' is not a plain file name") }
        let temporary = name + ".partial"
        // A leftover of a crash, or anything planted under that name, goes (unlink removes a
        // link itself, never what it points to).
        unlinkat(descriptor, temporary, 0)
        let fd = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", temporary, errno) }
        let failed: Int32? = data.withUnsafeBytes { raw -> Int32? in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        Glibc.close(fd)
        if let failed {
            unlinkat(descriptor, temporary, 0)
            throw failure("cannot write", temporary, failed)
        }
        // rename replaces whatever has the final name, a link included, without following it.
        guard renameat(descriptor, temporary, descriptor, name) == 0 else { throw failure("cannot rename", temporary, errno) }
        return (path as NSString).appendingPathComponent(name)
    }

    private func failure(_ what: String, _ name: String, _ code: Int32) -> OutputError {
        OutputError(message: "\(what) \((path as NSString).appendingPathComponent(name)): \(String(cString: strerror(code))); check --output-dir")
    }
}
