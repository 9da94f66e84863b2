import ComfyUIClient
import Foundation
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlStore
import GPUCtlTestSupport
import Logging
import Testing

/// A malicious or impostor ComfyUI reports outputs whose node ids, names, subfolders and
/// types try to leave the job's folder: everything lands inside it, under plain names.
@Suite(.timeLimit(.minutes(2))) struct HostileOutputTests {
    @Test func hostileNamesAndNodeIDsStayInTheJobFolder() async throws {
        let comfyui = FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30))
        try await comfyui.start()
        let names = ["../../../gpuctl.sqlite-wal.png", "/etc/passwd", ".hidden.png", "run.sh", "a.png", "a.png", "output-1.png",
                     String(repeating: "x", count: 300) + ".png"]
        for name in Set(names) { await comfyui.addFile(type: "output", subfolder: "../..", name: name, bytes: Array(name.utf8)) }
        let directory = try TemporaryDirectory()
        let store = try JobStore(directory: directory.file("state"))
        // Something outside the folder that a planted link points at must stay untouched.
        let victim = directory.file("victim")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim))
        let folder = directory.file("out/job-1")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/a.png", withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: folder + "/a.png.partial", withDestinationPath: victim)

        let images: JSONValue = .array(names.map { ["filename": .string($0), "subfolder": "../..", "type": "output"] })
        let reported: [String: JSONValue] = ["../../escape": ["images": images, "text": ["hello", "world"]],
                                             "/abs": ["text": ["x"]]]
        let result: Result<[JobOutput], any Error>
        do {
            result = .success(try await withHTTPClient(ClientHarness.httpConfiguration) { http in
                let client = ComfyUIClient(baseURL: comfyui.baseURL, httpClient: http, logger: Logger(label: "t"))
                return try await JobOutputs(comfyui: client, directory: directory.file("out"), store: store)
                    .collect(jobID: "job-1", outputs: reported)
            })
        } catch {
            result = .failure(error)
        }
        await comfyui.stop()
        let files = try result.get()

        #expect(files.count == names.count + 3)
        for file in files {
            let parent: String = (file.path as NSString).deletingLastPathComponent
            #expect(parent == folder, "\(file.path)")
            let local = (file.path as NSString).lastPathComponent
            #expect(OutputNames.isPlain(local) && OutputNames.knownExtension(of: local) != nil || local.hasSuffix(".bin"), "\(local)")
        }
        let locals = files.map { ($0.path as NSString).lastPathComponent }
        #expect(Set(locals).count == locals.count, "no two outputs share a file: \(locals)")
        #expect(locals.contains("gpuctl.sqlite-wal.png") && locals.contains("a.png") && locals.contains("passwd") == false)
        let script: JobOutput? = files.first { $0.filename == "run.sh" }
        #expect(script?.path.hasSuffix(".bin") == true)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep", "a planted link was written through")
        let listing = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(!listing.contains { $0.hasSuffix(".partial") } && listing.count == files.count, "\(listing)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("gpuctl.sqlite-wal.png")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("escape")))
    }

    @Test func localNamesArePlainAndNumberedWhenNot() {
        var names = OutputNames()
        #expect(names.file(reportedAs: "sub/dir/cat_00001_.png") == "cat_00001_.png")
        #expect(names.file(reportedAs: "cat_00001_.png") == "output-1.png", "a second file of that name is numbered")
        #expect(names.file(reportedAs: "..") == "output-2.bin")
        #expect(names.file(reportedAs: "clip.MP4") == "clip.MP4")
        #expect(names.file(reportedAs: "-rf.png") == "output-3.png")
        #expect(names.file(reportedAs: "x\u{0}.png") == "output-4.png")
        #expect(names.text() == "text-5.txt")
        #expect(!OutputNames.isPlain("a/b") && !OutputNames.isPlain(".") && !OutputNames.isPlain("a..b") && OutputNames.isPlain("a.b"))
    }

    /// Outputs are streamed to disk, and a backend that reports too many files or too large a
    /// one fails the job's collection instead of filling memory or the disk.
    @Test func downloadsAreStreamedAndBounded() async throws {
        let comfyui = FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30))
        try await comfyui.start()
        let big = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        await comfyui.addFile(type: "output", subfolder: "", name: "big.png", bytes: big)
        await comfyui.addFile(type: "output", subfolder: "", name: "small.png", bytes: [1, 2, 3])
        let directory = try TemporaryDirectory()
        let store = try JobStore(directory: directory.file("state"))
        func images(_ names: [String]) -> [String: JSONValue] {
            ["9": ["images": .array(names.map { ["filename": .string($0), "subfolder": "", "type": "output"] })]]
        }
        let outcomes: [Result<[JobOutput], any Error>]
        do {
            outcomes = try await withHTTPClient(ClientHarness.httpConfiguration) { http in
                let client = ComfyUIClient(baseURL: comfyui.baseURL, httpClient: http, logger: Logger(label: "t"))
                let plain = JobOutputs(comfyui: client, directory: directory.file("out"), store: store)
                var smallFiles = plain
                smallFiles.maximumFileBytes = 1 << 20
                var fewFiles = plain
                fewFiles.maximumFiles = 2
                var results: [Result<[JobOutput], any Error>] = []
                for (outputs, id, reported) in [(plain, "whole", ["big.png", "small.png"]), (smallFiles, "too-large", ["small.png", "big.png"]),
                                                (fewFiles, "too-many", ["small.png", "small.png", "small.png"]),
                                                (plain, "missing", ["gone.png"])] {
                    do { results.append(.success(try await outputs.collect(jobID: id, outputs: images(reported)))) } catch { results.append(.failure(error)) }
                }
                return results
            }
        } catch {
            await comfyui.stop()
            throw error
        }
        await comfyui.stop()
        let whole = try outcomes[0].get()
        #expect(whole.map(\.bytes) == [big.count, 3])
        #expect(FileManager.default.contents(atPath: whole[0].path) == Data(big))
        for (index, words) in [(1, "larger than the 1 MiB"), (2, "more than 2 output files"), (3, "404")] {
            guard case .failure(let error) = outcomes[index] else {
                Issue.record("outcome \(index) succeeded")
                continue
            }
            #expect("\(error)".contains(words), "\(error)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.file("out/too-large"))
        #expect(left == ["small.png"], "no partial file is left: \(left)")
    }
}
