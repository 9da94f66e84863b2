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
        let folder = try OutputFolder(directory: directory, jobID: jobID)
        defer { folder.close() }
        var collected: [JobOutput] = []
        var names = OutputNames()
        for (node, output) in outputs.sorted(by: { $0.key < $1.key }) {
            for (key, value) in (output.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard case .array(let items) = value else { continue }
                for item in items {
                    if let name = item["filename"]?.stringValue {
                        let subfolder = item["subfolder"]?.stringValue ?? ""
                        let type = item["type"]?.stringValue ?? "output"
                        let local = names.file(reportedAs: name)
                        let data = try await fetch(name: name, subfolder: subfolder, type: type)
                        let path = try folder.write(data, as: local)
                        collected.append(JobOutput(node: node, path: path, bytes: data.count, contentType: Self.contentType(of: local),
                                                   filename: name, subfolder: subfolder, type: type))
                    } else if key == "text", let text = item.stringValue {
                        let local = names.text()
                        let path = try folder.write(Data(text.utf8), as: local)
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
