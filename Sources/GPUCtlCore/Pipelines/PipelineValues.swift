import Foundation
import GPUCtlModels

/// Resolves a step's templates at run time, once what they reference exists: a string that is
/// one reference becomes the referenced value whole (a list stays a list), any other string has
/// each reference written into it as text.
public struct PipelineValues: Sendable {
    /// The run's inputs, defaults filled in.
    public var inputs: [String: JSONValue]
    /// Each finished step's outputs: an object of its fields, or for a fan-out, the list of
    /// its items' objects (null for an item that failed).
    public var outputs: [String: JSONValue]
    /// The fan-out element and position, inside a `for_each` step.
    public var item: JSONValue?
    public var index: Int?

    public init(inputs: [String: JSONValue], outputs: [String: JSONValue] = [:], item: JSONValue? = nil, index: Int? = nil) {
        self.inputs = inputs
        self.outputs = outputs
        self.item = item
        self.index = index
    }

    /// Why a template could not be filled (a reply without the field a later step needs).
    public struct Unresolved: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// `value` with every template in it filled.
    public func resolve(_ value: JSONValue) throws(Unresolved) -> JSONValue {
        switch value {
        case .string(let text): return try resolve(text)
        case .array(let items):
            var resolved: [JSONValue] = []
            for item in items { resolved.append(try resolve(item)) }
            return .array(resolved)
        case .object(let object):
            var resolved: [String: JSONValue] = [:]
            for (key, item) in object { resolved[key] = try resolve(item) }
            return .object(resolved)
        default: return value
        }
    }

    private func resolve(_ text: String) throws(Unresolved) -> JSONValue {
        let pieces = PipelineTemplate.pieces(text)
        if pieces.count == 1, case .reference(let reference) = pieces[0] { return try value(of: reference) }
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let literal), .malformed(let literal): out += literal
            case .reference(let reference): out += Self.text(try value(of: reference))
            }
        }
        return .string(out)
    }

    /// What a reference stands for now.
    public func value(of reference: PipelineReference) throws(Unresolved) -> JSONValue {
        switch reference {
        case .input(let name):
            guard let value = inputs[name] else { throw Unresolved(message: "\(reference) has no value") }
            return value
        case .index:
            guard let index else { throw Unresolved(message: "\(reference) is only known inside a fan-out") }
            return .number(Double(index))
        case .item(let path):
            guard let item else { throw Unresolved(message: "\(reference) is only known inside a fan-out") }
            return try follow(path, from: item, reference: reference)
        case .step(let id, let field, let path):
            guard let output = outputs[id] else { throw Unresolved(message: "\(reference): step '\(id)' has not succeeded") }
            if case .array(let items) = output {
                if field == "count" { return .number(Double(items.count)) }
                return .array(items.map { $0[field] ?? .null })
            }
            guard let value = output[field] else { throw Unresolved(message: "\(reference): step '\(id)' has no \(field)") }
            return try follow(path, from: value, reference: reference)
        }
    }

    private func follow(_ path: [String], from start: JSONValue, reference: PipelineReference) throws(Unresolved) -> JSONValue {
        var value = start
        for component in path {
            switch value {
            case .object(let object):
                guard let next = object[component] else {
                    throw Unresolved(message: "\(reference): the value has no '\(component)' (it has \(object.keys.sorted().joined(separator: ", ")))")
                }
                value = next
            case .array(let items):
                guard let index = Int(component), items.indices.contains(index) else {
                    throw Unresolved(message: "\(reference): '\(component)' is not an index of a list of \(items.count)")
                }
                value = items[index]
            default:
                throw Unresolved(message: "\(reference): '\(component)' goes into \(value.typeName), which has no fields")
            }
        }
        return value
    }

    /// A value written into text: strings as they are, whole numbers without a fraction.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null: ""
        default: value.jsonText
        }
    }
}
