import Foundation

/// A number of bytes, written and read the way people write memory sizes: `"6.2GiB"`,
/// `"512 MiB"`, `"24GB"`, or a plain integer of bytes.
///
/// Binary units (KiB, MiB, GiB, TiB) are powers of 1024; decimal units (KB, MB, GB, TB) are
/// powers of 1000, as nvidia-smi and Ollama's own docs use them.
public struct ByteSize: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The exact number of bytes.
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    public static func mebibytes(_ value: UInt64) -> ByteSize { ByteSize(bytes: value << 20) }
    public static func gibibytes(_ value: UInt64) -> ByteSize { ByteSize(bytes: value << 30) }

    private static let units: [(suffix: String, factor: Double)] = [
        ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12),
        ("k", 1024), ("m", 1_048_576), ("g", 1_073_741_824), ("t", 1_099_511_627_776),
        ("b", 1),
    ]

    /// Parses `"6.2GiB"`, `"512 MiB"`, `"24GB"`, `"1073741824"`. Returns nil for anything else.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        var number = Substring(trimmed)
        var factor: Double = 1
        for unit in Self.units where trimmed.hasSuffix(unit.suffix) {
            number = trimmed.dropLast(unit.suffix.count)
            factor = unit.factor
            break
        }
        let digits = number.trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }),
              let value = Double(digits), value.isFinite, value >= 0 else { return nil }
        let total = (value * factor).rounded()
        guard total < Double(UInt64.max) else { return nil }
        self.bytes = UInt64(total)
    }

    /// `"6.2 GiB"`: binary units, at most one decimal, the largest unit that keeps the value ≥ 1.
    public var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
        return "\(text) \(units[index])"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    /// Decodes either an integer of bytes or a size string.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(UInt64.self) {
            self.bytes = integer
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = ByteSize(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "'\(text)' is not a size; write it like \"6.2GiB\", \"512MiB\" or a number of bytes")
        }
        self = parsed
    }

    /// Encodes as an integer of bytes: the wire format is exact, people read the CLI's rendering.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` when that does not fit: sizes reported by a backend or
    /// written in a catalog are summed with this, so a huge value cannot trap the daemon.
    public func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// A JSON number as a byte count: nil unless it is a whole number from 0 to 2^64.
    public init?(jsonNumber value: Double) {
        guard value.isFinite, value >= 0, value < 0x1p64, value == value.rounded() else { return nil }
        self.init(value)
    }
}

extension Int {
    /// A JSON number as an Int: nil unless it is whole and within ±2^53 (what a double holds
    /// exactly), so a backend's 1e300 is refused rather than trapping.
    public init?(jsonNumber value: Double) {
        guard value.isFinite, value == value.rounded(), abs(value) <= 0x1p53 else { return nil }
        self.init(value)
    }
}

extension Sequence where Element == UInt64 {
    /// The sum, saturating at `UInt64.max`.
    public func saturatingSum() -> UInt64 { reduce(0) { $0.addingSaturating($1) } }
}
