import Foundation

/// `speak`: text to speech on the TTS server (`--tts-url`), through the VRAM budget.
public struct SpeakParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case model, input, voice, format, speed, requestClass = "class" }

    /// A `tts` model of the catalog; nil: the first one.
    public var model: String?
    public var input: String
    public var voice: String?
    /// `wav` (the default), or what the server makes (`mp3`, `flac`, `opus`, `pcm`).
    public var format: String = "wav"
    public var speed: Double?
    public var requestClass: JobClass = .interactive

    public init(input: String, model: String? = nil, voice: String? = nil) {
        self.input = input
        self.model = model
        self.voice = voice
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.string(Field.model)
        input = try params.requiredString(Field.input)
        guard !input.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw params.fail("'input' is empty: give the text to speak") }
        voice = try params.string(Field.voice)
        format = try params.string(Field.format) ?? "wav"
        guard Self.formats.contains(format) else {
            throw params.fail("'format' must be one of \(Self.formats.joined(separator: ", ")), not '\(format)'")
        }
        switch params.value(Field.speed) {
        case nil: speed = nil
        case .number(let value)? where value >= 0.25 && value <= 4: speed = value
        case let other?: throw params.fail("'speed' must be a number from 0.25 to 4, not \(other.jsonText)")
        }
        requestClass = try params.requestClass(Field.requestClass)
    }

    public static let formats = ["wav", "mp3", "flac", "opus", "aac", "pcm"]

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = model.map(JSONValue.string)
        writer[.input] = .string(input)
        writer[.voice] = voice.map(JSONValue.string)
        if format != "wav" { writer[.format] = .string(format) }
        writer[.speed] = speed.map(JSONValue.number)
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// What `speak` answers: the audio itself (base64), and what it is.
public struct SpeakResult: Codable, Sendable, Equatable {
    public var model: String
    public var voice: String?
    public var format: String
    public var bytes: Int
    /// Its length, when the format says (WAV).
    public var seconds: Double?
    /// The audio file's bytes, base64.
    public var audio: String
    public var gpuctl: GPUCtlTiming

    public init(model: String, voice: String?, format: String, bytes: Int, seconds: Double?, audio: String, gpuctl: GPUCtlTiming) {
        self.model = model
        self.voice = voice
        self.format = format
        self.bytes = bytes
        self.seconds = seconds
        self.audio = audio
        self.gpuctl = gpuctl
    }
}

/// The length of a RIFF/WAVE file: its data chunk over its byte rate. nil when it is not one.
public enum WAVDuration {
    public static func seconds(_ bytes: some Collection<UInt8>) -> Double? {
        let data = Array(bytes.prefix(1 << 16))
        func le32(_ at: Int) -> Int? {
            guard at + 4 <= data.count else { return nil }
            return Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24
        }
        guard data.count >= 12, Array(data[0..<4]) == Array("RIFF".utf8), Array(data[8..<12]) == Array("WAVE".utf8) else { return nil }
        var offset = 12
        var byteRate: Int?
        while offset + 8 <= data.count, let size = le32(offset + 4) {
            let id = String(decoding: data[offset..<offset + 4], as: UTF8.self)
            if id == "fmt " { byteRate = le32(offset + 16) }
            if id == "data", let rate = byteRate, rate > 0 {
                // A streamed WAV may say 0 or 0xFFFFFFFF: then the rest of the file is the data.
                let length = size == 0 || size == 0xFFFF_FFFF ? bytes.count - offset - 8 : size
                return Double(length) / Double(rate)
            }
            offset += 8 + size + (size & 1)
        }
        return nil
    }
}
