import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// gpuctl speak, as a process against the daemon and the fake TTS server.
@Suite(.timeLimit(.minutes(3))) struct CLISpeakTests {
    static let catalog = """
    {"models": {"llama3.1:8b": {"backend": "ollama", "vram": "6.2GiB"}, "kokoro": {"backend": "tts", "vram": "1GiB", "aliases": ["voice"]}}}
    """

    @Test func speakWritesAPlayableWAVAndSaysWhatItWrote() async throws {
        let bed = try await BackendTestBed.start(catalog: Self.catalog, speech: { _ in })
        let directory = try TemporaryDirectory()
        let file = directory.file("hello.wav")
        let run = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "speak", "-m", "voice", "--voice", "af_bella",
                                                        "hello there from the card", "-o", file])
        #expect(run.status == 0 && run.stdout.hasPrefix("\(file): wav, ") && run.stdout.hasSuffix(", 1.5 s (kokoro, af_bella)\n"), "\(run)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(Array(bytes.prefix(4)) == Array("RIFF".utf8) && WAVDuration.seconds(bytes) == 1.5)
        #expect(bed.speech?.spoken == ["hello there from the card"])
        let badVoice = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "speak", "--voice", "nobody", "hi", "-o", file])
        #expect(badVoice.status == 1 && badVoice.stderr.hasPrefix("gpuctl: the TTS server refused the request: Voice 'nobody' not found."), "\(badVoice)")
        directory.remove()
        try await bed.stop()
    }

    @Test func withoutATTSServerItSaysHowToConfigureOne() async throws {
        let bed = try await BackendTestBed.start()
        let run = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "speak", "hi", "-o", "/dev/null"])
        #expect(run.status == 1 && run.stderr.contains("--tts-url") && run.stderr.split(separator: "\n").count == 1, "\(run)")
        try await bed.stop()
    }
}
