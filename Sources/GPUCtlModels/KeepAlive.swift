import Foundation

/// How long Ollama keeps a model resident after its last request, in the forms Ollama accepts:
/// a number of seconds, or a Go duration string with a unit (`"30m"`, `"1h30m"`); negative means forever.
public enum KeepAlive: Sendable, Equatable, Codable, CustomStringConvertible {
    case seconds(Double)
    case forever

    /// Parses what Ollama's `api.Duration` accepts as a string: a Go duration (`"5m"`, `"1h30m"`,
    /// `"300ms"`, `"-1m"`) or `"0"`. A bare number without a unit is rejected, as Ollama does.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { self = .seconds(0); return }
        guard let seconds = Self.parseGoDuration(trimmed), seconds.isFinite, abs(seconds) <= Self.longest else { return nil }
        self = seconds < 0 ? .forever : .seconds(seconds)
    }

    /// A JSON number of seconds, as Ollama reads it: negative means forever.
    public init(seconds: Double) {
        self = seconds < 0 ? .forever : .seconds(seconds.isFinite ? min(seconds, Self.longest) : Self.longest)
    }

    /// The longest duration Go (and so Ollama) can hold: about 292 years, in seconds. A longer
    /// string is refused, a longer number is cut to it.
    public static let longest: Double = 9_223_372_036

    private static let unitSeconds: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    private static func parseGoDuration(_ text: String) -> Double? {
        var rest = Substring(text)
        var sign = 1.0
        if rest.first == "-" { sign = -1; rest = rest.dropFirst() } else if rest.first == "+" { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // Longest unit first so "ms" is not read as "m".
            guard let unit = unitSeconds.sorted(by: { $0.0.count > $1.0.count })
                .first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return sign * total
    }

    /// The JSON value to send to Ollama: seconds as a number, forever as -1.
    public var ollamaValue: JSONValue {
        switch self {
        case .seconds(let value): .number(value)
        case .forever: .number(-1)
        }
    }

    public var description: String {
        switch self {
        case .forever: return "forever"
        case .seconds(let value):
            if value >= 3600, value.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(value / 3600))h" }
            if value >= 60, value.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(value / 60))m" }
            return value == value.rounded() ? "\(Int(value))s" : "\(value)s"
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self.init(seconds: number)
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = KeepAlive(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not a duration; write it like \"30m\", \"1h\" or -1")
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .seconds(let value): try container.encode(value)
        case .forever: try container.encode(-1)
        }
    }
}
