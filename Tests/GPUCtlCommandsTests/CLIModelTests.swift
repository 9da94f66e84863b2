import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The gpuctl binary against the real daemon and the fake Ollama: what a user types.
@Suite(.timeLimit(.minutes(3))) struct CLIModelTests {
    func gpuctl(_ bed: BackendTestBed, _ arguments: [String], input: String? = nil) async throws -> (status: Int32?, stdout: String, stderr: String) {
        try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath] + arguments, environment: ["NO_COLOR": "1"], input: input)
    }

    @Test func swapThenSwapLeavesOnlyTheSecondModel() async throws {
        let bed = try await BackendTestBed.start()
        let first = try await gpuctl(bed, ["swap", "llama3.1:8b"])
        #expect(first.status == 0 && first.stdout.hasPrefix("loaded llama3.1:8b in "), "\(first)")
        let second = try await gpuctl(bed, ["swap", "qwen2.5:14b"])
        #expect(second.status == 0 && second.stdout.contains("; unloaded llama3.1:8b"), "\(second)")
        let ps = try await gpuctl(bed, ["ps"])
        let resident = ps.stdout.split(separator: "\n").first { $0.hasPrefix("qwen2.5:14b ") }
        #expect(resident?.split(separator: " ").dropFirst().first == "loaded" && !ps.stdout.contains("llama3.1:8b"), "\(ps.stdout)")
        #expect(await bed.ollama.residentNames == ["qwen2.5:14b"])
        let all = try await gpuctl(bed, ["ps", "--all"])
        let row = all.stdout.split(separator: "\n").first { $0.hasPrefix("llama3.1:8b ") }
        #expect(row?.split(separator: " ").dropFirst().first == "absent", "\(all.stdout)")
        let unload = try await gpuctl(bed, ["unload", "--all"])
        #expect(unload.stdout == "unloaded qwen2.5:14b\n")
        let load = try await gpuctl(bed, ["load", "small", "--keep-alive", "1h"])
        #expect(load.status == 0 && load.stdout.hasPrefix("loaded llama3.2:3b"))
        try await bed.stop()
    }

    @Test func generateStreamsTextAndJSON() async throws {
        let bed = try await BackendTestBed.start()
        let text = try await gpuctl(bed, ["generate", "-m", "small", "Say", "something"])
        #expect(text.status == 0 && text.stdout == "The quick brown fox jumps over the lazy dog and runs away\n", "\(text)")
        let piped = try await gpuctl(bed, ["generate", "-m", "small", "--option", "num_predict=2"], input: "from stdin\n")
        #expect(piped.stdout == "The quick\n")
        let json = try await gpuctl(bed, ["generate", "-m", "small", "--json", "hi"])
        let lines = json.stdout.split(separator: "\n")
        #expect(lines.count == 13 && lines.first == #"{"text":"The"}"#)
        #expect(lines.last.map { (try? JSONParser.parse(Array($0.utf8)))?["doneReason"] } == "stop")
        let missing = try await gpuctl(bed, ["generate", "-m", "nosuch", "hi"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("gpuctl: model 'nosuch' is neither in the catalog nor in Ollama"))
        try await bed.stop()
    }

    @Test func chatKeepsTheConversationAndEmbedPrintsVectors() async throws {
        let bed = try await BackendTestBed.start()
        let chat = try await gpuctl(bed, ["chat", "-m", "small", "--option", "num_predict=3"], input: "hi\nand again\n/bye\n")
        #expect(chat.status == 0 && chat.stdout == "The quick brown\nThe quick brown\n", "\(chat)")
        let embed = try await gpuctl(bed, ["embed", "-m", "embed", "one", "two"])
        let vectors = embed.stdout.split(separator: "\n").compactMap { try? JSONParser.parse(Array($0.utf8)) }
        #expect(vectors.count == 2)
        #expect(vectors.allSatisfy { if case .array(let values) = $0 { values.count == 768 } else { false } })
        try await bed.stop()
    }

    @Test func ctrlCStopsTheRequestUpstream() async throws {
        let bed = try await BackendTestBed.start()
        bed.ollama.configure { $0.tokenDelay = .milliseconds(30); $0.tokens = 1000 }
        let child = try ChildProcess("gpuctl", ["--socket", bed.daemon.socketPath, "generate", "-m", "small", "hi"])
        #expect(await eventually { await bed.ollama.inFlight["llama3.2:3b"] == 1 })
        child.signal(SIGINT)
        #expect(await child.waitForExit() != nil)
        #expect(await eventually { await bed.ollama.inFlight["llama3.2:3b"] == 0 })
        try await bed.stop()
    }
}
