import GPUCtlModels

/// One `{{…}}` of a pipeline template: an input, a step's output (with a path into it), the
/// current fan-out element (`item`, with a path) or its position (`index`).
public enum PipelineReference: Sendable, Equatable, CustomStringConvertible {
    case input(String)
    case step(String, field: String, path: [String])
    case item(path: [String])
    case index

    /// Parses the text between the braces; nil when it is none of the four shapes.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        switch parts[0] {
        case "input" where parts.count == 2: self = .input(parts[1])
        case "steps" where parts.count >= 3: self = .step(parts[1], field: parts[2], path: Array(parts.dropFirst(3)))
        case "item": self = .item(path: Array(parts.dropFirst()))
        case "index" where parts.count == 1: self = .index
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .input(let name): "{{input.\(name)}}"
        case .step(let id, let field, let path): "{{" + (["steps", id, field] + path).joined(separator: ".") + "}}"
        case .item(let path): "{{" + (["item"] + path).joined(separator: ".") + "}}"
        case .index: "{{index}}"
        }
    }
}

/// A template string cut into literal text and references.
public enum PipelineTemplate {
    public enum Piece: Sendable, Equatable {
        case text(String)
        case reference(PipelineReference)
        /// `{{…}}` that is no reference: kept for the error.
        case malformed(String)
    }

    /// The pieces of `text`; a string without `{{` is one `.text`.
    public static func pieces(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                pieces.append(.malformed(String(rest[open.lowerBound...])))
                return pieces
            }
            let inner = String(rest[open.upperBound..<close.lowerBound])
            pieces.append(PipelineReference(inner).map(Piece.reference) ?? .malformed("{{\(inner)}}"))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// Every string inside a JSON value, with where it is (`params.prompt`, `messages[0].content`).
    public static func strings(in value: JSONValue, at path: String) -> [(path: String, text: String)] {
        switch value {
        case .string(let text): return [(path, text)]
        case .array(let items): return items.enumerated().flatMap { strings(in: $1, at: "\(path)[\($0)]") }
        case .object(let object): return object.keys.sorted().flatMap { strings(in: object[$0]!, at: path.isEmpty ? $0 : "\(path).\($0)") }
        default: return []
        }
    }
}
