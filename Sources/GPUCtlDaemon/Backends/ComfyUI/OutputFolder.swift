import Foundation
import NIOCore

/// One job's output folder (`<output-dir>/<job id>`), opened once, with every file written
/// relative to it: a name is one component (`OutputNames`), the folder itself and the files
/// are opened without following links, and each file is written as `NAME.partial` (created
/// fresh, never through an existing file or link) and renamed, so a crash never leaves half a
/// file under its real name and a job finalized twice (after a restart) rewrites its folder.
struct OutputFolder {
    let path: String
    fileprivate let descriptor: Int32

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
        // A download a crash interrupted is never a file of the job's: the job is being
        // finalized again, and what it has now replaces it.
        removeAll { $0.hasSuffix(".partial") }
    }

    func close() { Glibc.close(descriptor) }

    /// Removes every file but `kept`: what an earlier finalization of the same job left (it was
    /// run again, after a crash, and has other files now).
    func removeAll(except kept: Set<String>) {
        removeAll { !kept.contains($0) }
    }

    private func removeAll(where unwanted: (String) -> Bool) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where unwanted(name) {
            unlinkat(descriptor, name, 0)
        }
    }

    /// Writes `data` as `name` in the folder; returns its path.
    func write(_ data: Data, as name: String) throws -> String {
        let file = try create(name)
        var buffer = ByteBuffer()
        buffer.writeBytes(data)
        guard file.append(buffer) else {
            let code = errno
            file.discard()
            throw failure("cannot write", name + ".partial", code)
        }
        return try file.commit()
    }

    /// A new file that will be called `name`, written as `NAME.partial` until `commit`.
    func create(_ name: String) throws -> PartialFile {
        guard OutputNames.isPlain(name) else { throw OutputError(message: "'\(name)' is not a plain file name") }
        let temporary = name + ".partial"
        // A leftover of a crash, or anything planted under that name, goes (unlink removes a
        // link itself, never what it points to).
        unlinkat(descriptor, temporary, 0)
        let fd = openat(descriptor, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", temporary, errno) }
        return PartialFile(folder: self, fd: fd, name: name)
    }

    /// An output being written: appended to, then given its name, or discarded.
    final class PartialFile: @unchecked Sendable {
        let folder: OutputFolder
        let fd: Int32
        let name: String
        private(set) var bytes = 0

        init(folder: OutputFolder, fd: Int32, name: String) {
            self.folder = folder
            self.fd = fd
            self.name = name
        }

        /// False when the write failed (errno says why).
        func append(_ buffer: ByteBuffer) -> Bool {
            let ok = buffer.withUnsafeReadableBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    offset += written
                }
                return true
            }
            if ok { bytes += buffer.readableBytes }
            return ok
        }

        /// Closes it and renames it into place (replacing whatever had the name, a link
        /// included, without following it); returns its path.
        func commit() throws -> String {
            Glibc.close(fd)
            let temporary = name + ".partial"
            guard renameat(folder.descriptor, temporary, folder.descriptor, name) == 0 else {
                throw folder.failure("cannot rename", temporary, errno)
            }
            return (folder.path as NSString).appendingPathComponent(name)
        }

        func discard() {
            Glibc.close(fd)
            unlinkat(folder.descriptor, name + ".partial", 0)
        }
    }

    fileprivate func failure(_ what: String, _ name: String, _ code: Int32) -> OutputError {
        OutputError(message: "\(what) \((path as NSString).appendingPathComponent(name)): \(String(cString: strerror(code))); check --output-dir")
    }
}
