import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl speak [-m MODEL] [--voice V] TEXT -o FILE.wav`: text to speech through gpuctld.
struct SpeakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speak", abstract: "Say TEXT with the TTS server (--tts-url on the daemon) and write the audio to a file.",
        discussion: "The voice model is a tts model of the catalog (the first one unless -m names another); it is admitted through the VRAM budget like any model.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "A tts model of the catalog (default: the first).") var model: String?
    @Option(help: "The voice (the server's names, e.g. af_heart for Kokoro).") var voice: String?
    @Option(help: "Audio format: wav, mp3, flac, opus, aac or pcm (default: from the file's extension, else wav).") var format: String?
    @Option(help: "Speed, 0.25 to 4.") var speed: Double?
    @Option(name: [.short, .customLong("output")], help: "The file to write.") var output: String
    @Argument(help: "The text (read from stdin when left out).") var text: [String] = []

    func run() throws {
        let input = text.isEmpty ? Stdin.readAll() : text.joined(separator: " ")
        guard !input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("give the text to speak, as arguments or on stdin") }
        var params = SpeakParams(input: input, model: model, voice: voice)
        let fromExtension = URL(fileURLWithPath: output).pathExtension.lowercased()
        params.format = format ?? (SpeakParams.formats.contains(fromExtension) ? fromExtension : "wav")
        params.speed = speed
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let raw = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.speak.rawValue, params: params.json) }
        let result = try JSONDecoder().decode(SpeakResult.self, from: raw)
        guard let audio = Data(base64Encoded: result.audio) else { throw CLIExit.fail(.protocolError("the speak result's audio is not base64")) }
        do {
            try audio.write(to: URL(fileURLWithPath: output))
        } catch {
            throw ValidationError("could not write \(output): \(error.localizedDescription)")
        }
        if global.json {
            var summary = result
            summary.audio = ""
            return Output.printJSON(try JSONEncoder().encode(summary))
        }
        let length = result.seconds.map { String(format: ", %.1f s", $0) } ?? ""
        Output.print("\(output): \(result.format), \(ByteSize(bytes: UInt64(result.bytes)))\(length) (\(result.model)\(result.voice.map { ", \($0)" } ?? ""))")
    }
}
