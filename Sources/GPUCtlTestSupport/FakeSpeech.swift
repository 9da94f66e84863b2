import Foundation
import GPUCtlModels
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// An in-process text-to-speech server with OpenAI's speech contract, as Kokoro-FastAPI serves
/// it: `POST /v1/audio/speech` answers real WAV bytes (a RIFF header and 16-bit PCM, about
/// 0.3 s per word), `GET /health`, `GET /v1/models`, `GET /v1/audio/voices` and Kokoro's
/// `POST /dev/unload`. Its model holds the shared `VirtualGPU` while loaded: at start when
/// `residentAtStart`, again at the first speech after an unload.
public final class FakeSpeech: Sendable {
    public struct Knobs: Sendable {
        public var latency: Duration = .zero
        /// The next `count` requests fail with this status and message (FastAPI's `detail`).
        public var failNext: (count: Int, status: Int, message: String) = (0, 500, "")
        /// What its model takes on the card.
        public var modelBytes: UInt64 = 1 << 30
        /// Whether it loads its model when it starts (Kokoro-FastAPI does).
        public var residentAtStart = true
        /// Whether `POST /dev/unload` exists (Speaches and openedai-speech have none).
        public var supportsUnload = true
        /// Seconds of audio per word of input.
        public var secondsPerWord = 0.3
        /// Time taken per second of audio made.
        public var synthesisDelay: Duration = .zero
        public var models = ["kokoro", "tts-1"]
        public var voices = ["af_heart", "af_bella", "am_adam"]
        public init() {}
    }

    public static let sampleRate = 24_000
    public let gpu: VirtualGPU
    let knobs: LockedBox<Knobs>
    /// Texts spoken, in order; and how often the model was loaded.
    let record = LockedBox<(spoken: [String], loads: Int, unloads: Int)>(([], 0, 0))
    private let server: FakeHTTPServer
    /// Its name on the virtual card, one per fake.
    private let owner = "tts:\(UUID().uuidString.prefix(8))"

    public init(gpu: VirtualGPU) {
        self.gpu = gpu
        let knobs = LockedBox(Knobs())
        let record = self.record
        self.knobs = knobs
        let owner = self.owner
        self.server = FakeHTTPServer { port, onServerRunning, connections in
            Application(router: Self.router(knobs: knobs, record: record, gpu: gpu, owner: owner),
                        server: HTTPServerBuilder { responder in connections.tracking(HTTP1Channel(responder: responder)) },
                        configuration: .init(address: .hostname("127.0.0.1", port: port)),
                        onServerRunning: onServerRunning,
                        logger: Logger(label: "fake-tts", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }

    public var baseURL: String { server.baseURL }
    /// Starts serving; with `residentAtStart` its model takes its memory first.
    public func start() async throws {
        if knobs.value.residentAtStart, await gpu.allocate(owner, bytes: knobs.value.modelBytes) {
            record.mutate { $0.loads += 1 }
        }
        try await server.start()
    }
    /// Like the server going down: its port refuses connections and its memory is free.
    public func stop() async {
        await server.stop()
        await gpu.release(owner)
    }
    public func configure(_ change: (inout Knobs) -> Void) { knobs.mutate(change) }
    public var spoken: [String] { record.value.spoken }
    public var loads: Int { record.value.loads }
    public var unloads: Int { record.value.unloads }
    /// Whether its model holds the card now.
    public var isResident: Bool { get async { await gpu.holders[owner] != nil } }

    static func router(knobs: LockedBox<Knobs>, record: LockedBox<(spoken: [String], loads: Int, unloads: Int)>, gpu: VirtualGPU,
                       owner: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: FaultMiddleware(latency: { knobs.value.latency }, failure: {
            knobs.mutate { knobs -> Response? in
                guard knobs.failNext.count > 0 else { return nil }
                knobs.failNext.count -= 1
                return detail(knobs.failNext.message, status: knobs.failNext.status)
            }
        }))
        router.get("/health") { _, _ in json(["status": "healthy"]) }
        router.get("/v1/models") { _, _ in
            json(["object": "list", "data": .array(knobs.value.models.map { ["id": .string($0), "object": "model", "owned_by": "kokoro"] })])
        }
        router.get("/v1/audio/voices") { _, _ in json(["voices": .array(knobs.value.voices.map(JSONValue.string))]) }
        router.post("/dev/unload") { _, _ in
            guard knobs.value.supportsUnload else { return detail("Not Found", status: 404) }
            await gpu.release(owner)
            record.mutate { $0.unloads += 1 }
            return json(["status": "unloaded"])
        }
        router.post("/v1/audio/speech") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let params = try? JSONParser.parse(Data(buffer: body)), case .object = params else {
                return detail("request body is not a JSON object", status: 422)
            }
            let settings = knobs.value
            guard let input = params["input"]?.stringValue, !input.trimmingCharacters(in: .whitespaces).isEmpty else {
                return detail("Input text cannot be empty", status: 400)
            }
            let model = params["model"]?.stringValue ?? "kokoro"
            guard settings.models.contains(model) else { return detail("Unsupported model: \(model)", status: 400) }
            let voice = params["voice"]?.stringValue ?? settings.voices[0]
            guard settings.voices.contains(voice) else {
                return detail("Voice '\(voice)' not found. Available voices: \(settings.voices.joined(separator: ", "))", status: 400)
            }
            let format = params["response_format"]?.stringValue ?? "mp3"
            guard format == "wav" || format == "pcm" else { return detail("Unsupported response_format: \(format) (this fake makes wav and pcm)", status: 400) }
            if await gpu.holders[owner] == nil {
                guard await gpu.allocate(owner, bytes: settings.modelBytes) else {
                    return detail("CUDA out of memory. Tried to allocate \(settings.modelBytes >> 20) MiB", status: 500)
                }
                record.mutate { $0.loads += 1 }
            }
            let words = input.split(whereSeparator: \.isWhitespace).count
            let seconds = max(0.5, Double(words) * settings.secondsPerWord)
            if settings.synthesisDelay > .zero { try? await Task.sleep(for: settings.synthesisDelay * seconds) }
            record.mutate { $0.spoken.append(input) }
            let pcm = Self.tone(seconds: seconds)
            let bytes = format == "wav" ? Self.wav(pcm: pcm) : pcm
            return Response(status: .ok, headers: [.contentType: format == "wav" ? "audio/wav" : "audio/pcm"],
                            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    /// A quiet 220 Hz tone, 16-bit little-endian mono.
    static func tone(seconds: Double) -> [UInt8] {
        let count = Int(seconds * Double(sampleRate))
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * 2)
        for index in 0..<count {
            let sample = Int16(sin(Double(index) * 2 * .pi * 220 / Double(sampleRate)) * 3_000)
            bytes.append(UInt8(truncatingIfNeeded: sample))
            bytes.append(UInt8(truncatingIfNeeded: sample >> 8))
        }
        return bytes
    }

    /// A RIFF/WAVE file around 16-bit mono PCM at `sampleRate`.
    public static func wav(pcm: [UInt8]) -> [UInt8] {
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        return Array("RIFF".utf8) + le32(36 + pcm.count) + Array("WAVE".utf8)
            + Array("fmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(sampleRate) + le32(sampleRate * 2) + le16(2) + le16(16)
            + Array("data".utf8) + le32(pcm.count) + pcm
    }

    static func json(_ members: [String: JSONValue], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.data(.object(members)))))
    }

    /// FastAPI's error shape, as Kokoro-FastAPI sends it.
    static func detail(_ message: String, status: Int) -> Response {
        json(["detail": ["error": "processing_error", "message": .string(message), "type": "server_error"]], status: .init(code: status))
    }
}
