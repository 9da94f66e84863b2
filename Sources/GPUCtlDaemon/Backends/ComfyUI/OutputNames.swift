import Foundation

/// The local names of one job's output files, chosen so that nothing ComfyUI reports (node
/// ids, file names, subfolders) can name a path: a reported name is kept only when it is a
/// plain file name (letters, digits, `.`, `_`, `-`, not starting with a dot) with an extension
/// of a known output type and not taken yet; anything else is `output-N.EXT` (`.bin` when the
/// extension is not a known one), and text outputs are `text-N.txt`. Pure.
struct OutputNames {
    /// The extensions an output may keep.
    static let extensions: Set<String> = ["png", "jpg", "jpeg", "webp", "gif", "mp4", "webm", "mov", "flac", "mp3", "wav",
                                          "opus", "ogg", "txt", "json", "glb"]
    static let longest = 128

    private var used: Set<String> = []
    private var counter = 0

    /// The local name for a file ComfyUI calls `reported`.
    mutating func file(reportedAs reported: String) -> String {
        let base = String(reported.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        let ext = Self.knownExtension(of: base)
        // Numbered names are ours: a reported one that looks like them is numbered too.
        if ext != nil, Self.isPlain(base), !used.contains(base), !base.hasPrefix("output-"), !base.hasPrefix("text-") {
            used.insert(base)
            return base
        }
        return numbered("output", ext: ext ?? "bin")
    }

    /// The local name of a job's next text output.
    mutating func text() -> String { numbered("text", ext: "txt") }

    private mutating func numbered(_ stem: String, ext: String) -> String {
        var name: String
        repeat {
            counter += 1
            name = "\(stem)-\(counter).\(ext)"
        } while used.contains(name)
        used.insert(name)
        return name
    }

    static func knownExtension(of name: String) -> String? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let ext = name[name.index(after: dot)...].lowercased()
        return extensions.contains(ext) ? ext : nil
    }

    /// A name that is one path component and nothing else on any filesystem gpuctld runs on.
    static func isPlain(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= longest, first != UInt8(ascii: "."), first != UInt8(ascii: "-")
        else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        } && !name.contains("..")
    }
}
