import AsyncHTTPClient
import Foundation
import GPUCtlTestSupport
import Logging
import SpeechClient
import Testing

/// The speech client against the fake Kokoro-style server: real WAV bytes, the server's own
/// error sentences, unload where the server has it, and a server that is down.
@Suite(.timeLimit(.minutes(1))) struct SpeechClientTests {
    func withSpeech(_ configure: (FakeSpeech) -> Void = { _ in }, _ body: (FakeSpeech, SpeechClient) async throws -> Void) async throws {
        let fake = FakeSpeech(gpu: VirtualGPU(totalBytes: 8 << 30))
        configure(fake)
        try await ClientHarness.running(fake, start: { try await $0.start() }, stop: { await $0.stop() },
                                        client: { SpeechClient(baseURL: $0.baseURL, httpClient: $1, logger: Logger(label: "t"), quickTimeout: .seconds(10)) }, body)
    }

    @Test func speakAnswersAPlayableWAV() async throws {
        try await withSpeech { fake, client in
            #expect(try await client.health() == "healthy")
            let audio = try await client.speak(model: "kokoro", input: "one two three four five", voice: "af_bella", format: "wav")
            let bytes = [UInt8](audio)
            #expect(Array(bytes[0..<4]) == Array("RIFF".utf8) && Array(bytes[8..<16]) == Array("WAVEfmt ".utf8))
            let dataLength = Int(bytes[40]) | Int(bytes[41]) << 8 | Int(bytes[42]) << 16 | Int(bytes[43]) << 24
            #expect(dataLength == bytes.count - 44 && dataLength == Int(1.5 * 24_000) * 2)
            #expect(fake.spoken == ["one two three four five"])
        }
    }

    @Test func theServersErrorsAreOneSentence() async throws {
        try await withSpeech { _, client in
            await #expect {
                _ = try await client.speak(model: "kokoro", input: "hi", voice: "nobody", format: "wav")
            } throws: { error in
                let speech = error as? SpeechError
                return speech?.status == 400 && speech?.message.hasPrefix("Voice 'nobody' not found.") == true
            }
            await #expect(throws: SpeechError.self) { _ = try await client.speak(model: "kokoro", input: "  ", voice: nil, format: "wav") }
        }
    }

    @Test func unloadGivesTheMemoryBackWhereTheServerHasIt() async throws {
        try await withSpeech { fake, client in
            #expect(await fake.isResident)
            #expect(try await client.unload())
            #expect(await !fake.isResident)
            _ = try await client.speak(model: "kokoro", input: "again", voice: nil, format: "wav")
            #expect(await fake.isResident && fake.loads == 2)
        }
        let noUnload: (FakeSpeech) -> Void = { $0.configure { $0.supportsUnload = false } }
        try await withSpeech(noUnload) { fake, client throws in
            let unloaded = try await client.unload()
            #expect(!unloaded)
            #expect(await fake.isResident)
        }
    }

    @Test func aServerThatIsDownIsUnreachable() async throws {
        try await withSpeech { fake, client in
            await fake.stop()
            await #expect { _ = try await client.health() } throws: { ($0 as? SpeechError)?.isUnreachable == true }
            try await fake.start()
            #expect(try await client.health() == "healthy")
        }
    }
}
