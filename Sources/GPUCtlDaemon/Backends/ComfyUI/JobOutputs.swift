import ComfyUIClient
import Foundation
import NIOCore
import GPUCtlModels
import GPUCtlStore

/// Downloads what a finished prompt produced into one folder per job (`<output-dir>/<job id>`).
/// Files are written under a temporary name and renamed, so a crash never leaves half a file,
/// and a job finalized twice (after a restart) writes the same folder again, never a second one.
struct JobOutputs: Sendable {
    let comfyui: ComfyUIClient
    let directory: String
    let store: JobStore
    /// What one job may bring home: files are streamed to disk, and a backend that reports
    /// more files, or larger ones, than this fails the job instead of filling the disk.
    var maximumFiles = 2048
    var maximumFileBytes = 16 << 30
    var maximumJobBytes = 64 << 30

    /// Every file of `outputs` (history's per-node `images`, `gifs`, `audio`, `video`, …; `text`
    /// strings become `.txt` files). A file ComfyUI no longer serves is copied from an earlier
    /// job that downloaded it (an identical re-run points at the old files).
    func collect(jobID: String, outputs: [String: JSONValue]) async throws -> [JobOutput] {
        let folder = try OutputFolder(directory: directory, jobID: jobID)
        defer { folder.close() }
        var collected: [JobOutput] = []
        var names = OutputNames()
        var total = 0
        for (node, output) in outputs.sorted(by: { $0.key < $1.key }) {
            for (key, value) in (output.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard case .array(let items) = value else { continue }
                for item in items {
                    guard collected.count < maximumFiles else {
                        throw OutputError(message: "ComfyUI reported more than \(maximumFiles) output files for job \(jobID); the rest were not downloaded")
                    }
                    if let name = item["filename"]?.stringValue {
                        let subfolder = item["subfolder"]?.stringValue ?? ""
                        let type = item["type"]?.stringValue ?? "output"
                        let local = names.file(reportedAs: name)
                        let (path, bytes) = try await fetch(name: name, subfolder: subfolder, type: type, into: folder, as: local,
                                                            limit: min(maximumFileBytes, maximumJobBytes - total))
                        total += bytes
                        collected.append(JobOutput(node: node, path: path, bytes: bytes, contentType: Self.contentType(of: local),
                                                   filename: name, subfolder: subfolder, type: type))
                    } else if key == "text", let text = item.stringValue {
                        let local = names.text()
                        total += text.utf8.count
                        guard total <= maximumJobBytes else {
                            throw OutputError(message: "job \(jobID)'s outputs are larger than \(maximumJobBytes >> 20) MiB; the rest were not saved")
                        }
                        let path = try folder.write(Data(text.utf8), as: local)
                        collected.append(JobOutput(node: node, path: path, bytes: text.utf8.count, contentType: "text/plain",
                                                   filename: local, subfolder: "", type: "text"))
                    }
                }
            }
        }
        folder.removeAll(except: Set(collected.map { ($0.path as NSString).lastPathComponent }))
        return collected
    }

    /// Streams one file into the folder as `local`; returns its path and size. A file ComfyUI
    /// no longer serves (404) is copied from an earlier job's download of it.
    private func fetch(name: String, subfolder: String, type: String, into folder: OutputFolder, as local: String,
                       limit: Int) async throws -> (String, Int) {
        let file = try folder.create(local)
        let download = FileDownload(eventLoop: comfyui.transport.http.eventLoopGroup.any(), file: file, limit: limit)
        do {
            try await comfyui.download(filename: name, subfolder: subfolder, type: type, to: download)
        } catch {
            file.discard()
            if download.tooLarge {
                throw OutputError(message: "ComfyUI's output \(name) is larger than the \(limit >> 20) MiB a job's file may be; it was not saved")
            }
            if let code = download.writeFailed {
                throw OutputError(message: "cannot write \(folder.path)/\(local): \(String(cString: strerror(code))); check --output-dir")
            }
            throw error
        }
        switch download.status {
        case 200:
            return (try file.commit(), file.bytes)
        case 404:
            guard let earlier = earlierCopy(name: name, subfolder: subfolder, type: type),
                  let copied = Self.copy(earlier, into: file, limit: limit) else {
                file.discard()
                throw ComfyUIError(kind: .http, status: 404, message: "ComfyUI no longer has its output \(name) (/view answered 404)")
            }
            return (try file.commit(), copied)
        default:
            file.discard()
            let body = String(decoding: download.errorBody.readableBytesView, as: UTF8.self)
            throw ComfyUIError(kind: .http, status: download.status,
                               message: "ComfyUI answered \(download.status) to /view for \(name)\(body.isEmpty ? "" : ": \(body.prefix(300))")")
        }
    }

    /// Copies a file into `file` in pieces; nil when it cannot be read or is over `limit`.
    private static func copy(_ path: String, into file: OutputFolder.PartialFile, limit: Int) -> Int? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(1 << 20)
        while true {
            buffer.clear()
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { raw in
                max(0, read(fd, raw.baseAddress, raw.count))
            }
            if count == 0 { return file.bytes }
            guard file.bytes + count <= limit, file.append(buffer) else { return nil }
        }
    }

    private func earlierCopy(name: String, subfolder: String, type: String) -> String? {
        let results = (try? store.succeededResults(mentioning: name)) ?? []
        for result in results {
            for output in JobSpec.outputs(result) ?? [] where output.filename == name && output.subfolder == subfolder
                && output.type == type && FileManager.default.fileExists(atPath: output.path) {
                return output.path
            }
        }
        return nil
    }

    static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "webp": "image/webp"
        case "gif": "image/gif"
        case "mp4": "video/mp4"
        case "webm": "video/webm"
        case "mov": "video/quicktime"
        case "flac": "audio/flac"
        case "mp3": "audio/mpeg"
        case "wav": "audio/wav"
        case "opus", "ogg": "audio/ogg"
        case "txt": "text/plain"
        case "json": "application/json"
        case "glb": "model/gltf-binary"
        default: "application/octet-stream"
        }
    }
}
