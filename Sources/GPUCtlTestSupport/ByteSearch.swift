/// Where a byte pattern occurs, without overlaps: for the fakes' multipart parsing and the
/// benchmark's raw stream reader.
public enum ByteSearch {
    public static func occurrences(of pattern: [UInt8], in bytes: [UInt8]) -> [Int] {
        guard let first = pattern.first else { return [] }
        var found: [Int] = []
        var index = 0
        while index + pattern.count <= bytes.count {
            if bytes[index] == first, bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
                found.append(index)
                index += pattern.count
            } else {
                index += 1
            }
        }
        return found
    }
}
