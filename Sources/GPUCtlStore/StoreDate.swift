import Foundation

/// Dates as the store keeps them: `YYYY-MM-DD HH:MM:SS.SSS` in UTC, the text GRDB reads back
/// into a `Date`. Formatted by hand because GRDB's DateFormatter was a tenth of a submission.
enum StoreDate {
    static func text(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let millis = Int((interval - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes = [UInt8](repeating: 0, count: 23)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var rest = value
            for index in stride(from: offset + digits - 1, through: offset, by: -1) {
                bytes[index] = UInt8(48 + rest % 10)
                rest /= 10
            }
        }
        put(Int(parts.tm_year) + 1900, at: 0, digits: 4)
        bytes[4] = 45
        put(Int(parts.tm_mon) + 1, at: 5, digits: 2)
        bytes[7] = 45
        put(Int(parts.tm_mday), at: 8, digits: 2)
        bytes[10] = 32
        put(Int(parts.tm_hour), at: 11, digits: 2)
        bytes[13] = 58
        put(Int(parts.tm_min), at: 14, digits: 2)
        bytes[16] = 58
        put(Int(parts.tm_sec), at: 17, digits: 2)
        bytes[19] = 46
        put(min(max(millis, 0), 999), at: 20, digits: 3)
        return String(decoding: bytes, as: UTF8.self)
    }
}
