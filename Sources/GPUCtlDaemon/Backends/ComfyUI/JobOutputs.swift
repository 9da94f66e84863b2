import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUCtlStore

/// Downloads what a finished prompt produced into one folder per job (`<output-dir>/<job id>`).
/// Files are written under a temporary name and renamed, so a crash never leaves half a file,
/// and a job finalized twice (after a restart) writes the same folder again, never a second one.
struct JobOutputs: Sendable {
    let comfyui: ComfyUIClient
    let directory: String
    let store: JobStore

    /// Every file of `outputs` (history's per-node `images`, `gifs`, `audio`, `video`, …; `text`
    /// strings become `.txt` files). A file ComfyUI no longer serves is copied from an earlier
    /// job that downloaded it (an identical re-run points at the old files).
    func collect(jobID: String, outputs: [String: JSONValue]) async throws -> [JobOutput] {
        let folder = (directory as NSString).appendingPathComponent(jobID)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var collected: [JobOutput] = []
        var used: Set<String> = []
        for (node, output) in outputs.sorted(by: { $0.key < $1.key }) {
            for (key, value) in (output.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard case .array(let items) = value else { continue }
                for (index, item) in items.enumerated() {
                    if let name = item["filename"]?.stringValue {
                        let subfolder = item["subfolder"]?.stringValue ?? ""
                        let type = item["type"]?.stringValue ?? "output"
                        let local = Self.uniqueName((name as NSString).lastPathComponent, node: node, used: &used)
                        let path = (folder as NSString).appendingPathComponent(local)
                        let data = try await fetch(name: name, subfolder: subfolder, type: type)
                        try Self.write(data, to: path)
                        collected.append(JobOutput(node: node, path: path, bytes: data.count, contentType: Self.contentType(of: name),
                                                   filename: name, subfolder: subfolder, type: type))
                    } else if key == "text", let text = item.stringValue {
                        let local = Self.uniqueName("\(node)-\(index).txt", node: node, used: &used)
                        let path = (folder as NSString).appendingPathComponent(local)
                        try Self.write(Data(text.utf8), to: path)
                        collected.append(JobOutput(node: node, path: path, bytes: text.utf8.count, contentType: "text/plain",
                                                   filename: local, subfolder: "", type: "text"))
                    }
                }
            }
        }
        return collected
    }

    private func fetch(name: String, subfolder: String, type: String) async throws -> Data {
        do {
            return try await comfyui.view(filename: name, subfolder: subfolder, type: type)
        } catch where error.status == 404 {
            if let earlier = earlierCopy(name: name, subfolder: subfolder, type: type),
               let data = FileManager.default.contents(atPath: earlier) {
                return data
            }
            throw error
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

    private static func uniqueName(_ name: String, node: String, used: inout Set<String>) -> String {
        var chosen = name.isEmpty ? "output" : name
        if used.contains(chosen) { chosen = "\(node)-\(chosen)" }
        var counter = 1
        let base = chosen
        while used.contains(chosen) {
            chosen = "\(counter)-\(base)"
            counter += 1
        }
        used.insert(chosen)
        return chosen
    }

    /// Written as `.partial` and renamed, so a file under its real name is always whole.
    /// Plain open/write rather than FileManager.createFile, which writes a temporary file of
    /// its own and syncs it: a third of gpuctld's CPU per job in issue 4's benchmark.
    private static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw OutputError(message: "cannot write \(temporary): \(String(cString: strerror(errno))); check --output-dir")
        }
        let failure: Int32? = data.withUnsafeBytes { raw -> Int32? in
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
        close(fd)
        if let failure {
            unlink(temporary)
            throw OutputError(message: "cannot write \(temporary): \(String(cString: strerror(failure))); check --output-dir")
        }
        if rename(temporary, path) != 0 {
            throw OutputError(message: "cannot move \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
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
