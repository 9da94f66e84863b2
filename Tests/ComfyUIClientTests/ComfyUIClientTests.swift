import AsyncHTTPClient
import ComfyUIClient
import Foundation
import GPUCtlModels
import GPUCtlTestSupport
import Logging
import Testing

/// ComfyUIClient's HTTP calls against the fake ComfyUI, which queues and runs graphs.
@Suite(.timeLimit(.minutes(3))) struct ComfyUIClientTests {
    static let redSquare: JSONValue = [
        "1": ["class_type": "EmptyImage", "inputs": ["width": 64, "height": 64, "batch_size": 1, "color": 16_711_680]],
        "2": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "gpuctl"]],
    ]

    static func sdGraph(steps: Int, prefix: String = "sd") -> JSONValue {
        [
            "1": ["class_type": "CheckpointLoaderSimple", "inputs": ["ckpt_name": "v1-5-pruned-emaonly.safetensors"]],
            "2": ["class_type": "CLIPTextEncode", "inputs": ["text": "a cat", "clip": ["1", 1]]],
            "3": ["class_type": "CLIPTextEncode", "inputs": ["text": "", "clip": ["1", 1]]],
            "4": ["class_type": "EmptyLatentImage", "inputs": ["width": 512, "height": 512, "batch_size": 1]],
            "5": ["class_type": "KSampler", "inputs": ["model": ["1", 0], "seed": 1, "steps": .number(Double(steps)), "cfg": 7,
                                                        "sampler_name": "euler", "scheduler": "normal", "positive": ["2", 0],
                                                        "negative": ["3", 0], "latent_image": ["4", 0], "denoise": 1]],
            "6": ["class_type": "VAEDecode", "inputs": ["samples": ["5", 0], "vae": ["1", 2]]],
            "7": ["class_type": "SaveImage", "inputs": ["images": ["6", 0], "filename_prefix": .string(prefix)]],
        ]
    }

    func withComfyUI(_ body: (FakeComfyUI, ComfyUIClient) async throws -> Void) async throws {
        try await ClientHarness.running(FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30)), start: { try await $0.start() },
                                             stop: { await $0.stop() },
                                             client: { ComfyUIClient(baseURL: $0.baseURL, httpClient: $1, quickTimeout: .seconds(10), logger: Logger(label: "test")) },
                                             body)
    }

    func finished(_ client: ComfyUIClient, _ id: String) async throws -> HistoryEntry {
        let entry = LockedBox<HistoryEntry?>(nil)
        _ = await eventually {
            let found = try await client.history(id)
            entry.mutate { $0 = found }
            return found != nil
        }
        return try #require(entry.value)
    }

    @Test func submitWithOurIDThenHistoryAndTheFile() async throws {
        try await withComfyUI { _, client in
            let id = UUID().uuidString.lowercased()
            #expect(try await client.history(id) == nil)
            let submitted = try await client.submit(graph: Self.redSquare, clientID: "gpuctld-test", promptID: id)
            #expect(submitted.promptID == id && submitted.nodeErrors == [:])
            let entry = try await finished(client, id)
            #expect(entry.statusString == "success" && entry.completed)
            let image = try #require(entry.outputs["2"]?["images"])
            #expect(image == [["filename": "gpuctl_00001_.png", "subfolder": "", "type": "output"]])
            let bytes = try await client.view(filename: "gpuctl_00001_.png", subfolder: "", type: "output")
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            // An identical re-run is served from the cache: the same file, no new one.
            let again = UUID().uuidString.lowercased()
            _ = try await client.submit(graph: Self.redSquare, clientID: "gpuctld-test", promptID: again)
            #expect(try await finished(client, again).outputs["2"]?["images"] == image)
            await #expect { _ = try await client.view(filename: "gpuctl_00002_.png", subfolder: "", type: "output") }
                throws: { ($0 as? ComfyUIError)?.status == 404 }
        }
    }

    @Test func aRefusedGraphSaysWhichNodeAndInput() async throws {
        try await withComfyUI { _, client in
            let broken: JSONValue = ["1": ["class_type": "EmptyImage", "inputs": ["width": 0, "height": 64, "batch_size": 1, "color": 0]],
                                     "2": ["class_type": "SaveImage", "inputs": ["filename_prefix": "x"]]]
            await #expect { _ = try await client.submit(graph: broken, clientID: "c", promptID: "p1") } throws: { error in
                guard let error = error as? ComfyUIError, error.status == 400 else { return false }
                return error.message == "ComfyUI refused the workflow (Prompt outputs failed validation): node 1 (EmptyImage) input 'width': Value 0 smaller than min of 1; node 2 (SaveImage) input 'images': Required input is missing"
            }
            await #expect { _ = try await client.submit(graph: ["1": ["class_type": "Nope", "inputs": [:]]], clientID: "c", promptID: "p2") }
                throws: { ($0 as? ComfyUIError)?.message.contains("node Nope does not exist") == true }
        }
    }

    @Test func queueInterruptAndFree() async throws {
        try await withComfyUI { fake, client in
            fake.configure { $0.stepDelay = .milliseconds(20) }
            _ = try await client.submit(graph: Self.sdGraph(steps: 500), clientID: "c", promptID: "long")
            _ = try await client.submit(graph: Self.redSquare, clientID: "c", promptID: "b")
            _ = try await client.submit(graph: Self.redSquare, clientID: "c", promptID: "a")
            #expect(await eventually { try await client.queue().running.map(\.promptID) == ["long"] })
            let queue = try await client.queue()
            #expect(queue.pending.map(\.promptID) == ["b", "a"] && queue.pending.first?.clientID == "c")
            #expect(await fake.gpu.usedBytes == 2 << 30)
            try await client.deleteFromQueue(["b"])
            try await client.interrupt("long")
            let interrupted = try await finished(client, "long")
            #expect(interrupted.statusString == "error" && !interrupted.completed)
            #expect(try await finished(client, "a").statusString == "success")
            #expect(try await client.history("b") == nil)
            try await client.free()
            #expect(await eventually { await fake.gpu.usedBytes == 0 })
        }
    }

    @Test func objectInfoListsTheNodeClasses() async throws {
        try await withComfyUI { _, client in
            let all = try await client.objectInfo()
            #expect(all["KSampler"]?["input"]?["required"]?["steps"] != nil)
            #expect(try await client.objectInfo("Nope") == [:])
        }
    }
}

/// Following `/ws`: the order ComfyUI sends, and reconnection after a drop.
@Suite(.timeLimit(.minutes(3))) struct ComfyUIEventFollowingTests {
    @Test func aRunArrivesInComfyUIsOrderAndADropIsFollowedByAReconnect() async throws {
        try await ClientHarness.running(
            FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30)), start: { try await $0.start() }, stop: { await $0.stop() },
            client: { ComfyUIClient(baseURL: $0.baseURL, httpClient: $1, quickTimeout: .seconds(10), logger: Logger(label: "test")) }
        ) { fake, client in
            let items = try await client.withEvents(clientID: "gpuctld-follow") { stream -> [ComfyStreamItem] in
                var items: [ComfyStreamItem] = []
                var submitted = false
                var dropped = false
                for await item in stream {
                    items.append(item)
                    if case .connected = item, !submitted {
                        submitted = true
                        _ = try await client.submit(graph: ComfyUIClientTests.redSquare, clientID: "gpuctld-follow", promptID: "run-1")
                    }
                    if case .event(.executing(_, nil)) = item, !dropped {
                        dropped = true
                        await fake.dropWebSockets()
                    }
                    if dropped, case .connected = item { break }
                }
                return items
            }
            let kinds = items.map { item -> String in
                switch item {
                case .connected: "connected"
                case .disconnected: "disconnected"
                case .event(let event):
                    switch event {
                    case .status: "status"
                    case .executionStart: "start"
                    case .executionCached: "cached"
                    case .executing(_, let node): "executing \(node ?? "null")"
                    case .executed(_, let node, _): "executed \(node)"
                    case .executionSuccess: "success"
                    default: "other"
                    }
                }
            }
            #expect(kinds.first == "connected")
            let run = kinds.drop { $0 != "start" }.prefix { $0 != "disconnected" }
            #expect(Array(run) == ["start", "cached", "executing 1", "executing 2", "executed 2", "success", "status", "executing null"], "\(kinds)")
            #expect(kinds.suffix(3) == ["executing null", "disconnected", "connected"], "\(kinds)")
        }
    }
}

extension ComfyUIClientTests {
    @Test func anUploadedImageCanBeLoaded() async throws {
        try await withComfyUI { _, client in
            let first = try await client.uploadImage(Data([1, 2, 3]), filename: "cat.png")
            #expect(first == UploadedImage(name: "cat.png", subfolder: "", type: "input"))
            #expect(try await client.uploadImage(Data([1, 2, 3]), filename: "cat.png").name == "cat.png")
            #expect(try await client.uploadImage(Data([4, 5]), filename: "cat.png").name == "cat (1).png")
            #expect(try await client.uploadImage(Data([4, 5]), filename: "cat.png", overwrite: true).name == "cat.png")
            let graph: JSONValue = ["1": ["class_type": "LoadImage", "inputs": ["image": "cat (1).png"]],
                                    "2": ["class_type": "ImageInvert", "inputs": ["image": ["1", 0]]],
                                    "3": ["class_type": "SaveImage", "inputs": ["images": ["2", 0], "filename_prefix": "inverted"]]]
            _ = try await client.submit(graph: graph, clientID: "c", promptID: "load-it")
            #expect(try await finished(client, "load-it").statusString == "success")
            let missing: JSONValue = ["1": ["class_type": "LoadImage", "inputs": ["image": "dog.png"]],
                                      "3": ["class_type": "SaveImage", "inputs": ["images": ["1", 0], "filename_prefix": "x"]]]
            await #expect { _ = try await client.submit(graph: missing, clientID: "c", promptID: "no") }
                throws: { ($0 as? ComfyUIError)?.message.contains("Invalid image file: dog.png") == true }
        }
    }
}
