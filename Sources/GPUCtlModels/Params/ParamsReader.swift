/// A method's params as named fields, read one by one. Every mistake is -32602 with a sentence
/// that names the method, the field and what it should be; an unknown field gets the nearest
/// known one as a "did you mean".
public struct ParamsReader: Sendable {
    public let method: String
    public let values: [String: JSONValue]

    /// `params` of a call to `method`, whose fields are the cases of `Field`.
    public init<Field: ParamField>(method: String, params: JSONValue?, fields: Field.Type) throws(RPCErrorPayload) {
        self.method = method
        switch params {
        case nil: values = [:]
        case .object(let object)?: values = object
        case let other?:
            throw RPCErrorPayload(.invalidParams, "invalid params for \(method): send an object of named params, not \(other.typeName)")
        }
        let allowed = Field.allCases.map(\.rawValue)
        for key in values.keys.sorted() where !allowed.contains(key) {
            let hint = Suggestion.closest(to: key, in: allowed).map { "; did you mean '\($0)'?" } ?? ""
            throw RPCErrorPayload(.invalidParams, "invalid params for \(method): unknown field '\(key)'\(hint)")
        }
    }

    public func fail(_ detail: String) -> RPCErrorPayload {
        RPCErrorPayload(.invalidParams, "invalid params for \(method): \(detail)")
    }

    /// The field's value; nil when absent or null.
    public func value(_ field: some ParamField) -> JSONValue? {
        values[field.rawValue].flatMap { $0 == .null ? nil : $0 }
    }

    public func string(_ field: some ParamField) throws(RPCErrorPayload) -> String? {
        switch value(field) {
        case nil: return nil
        case .string(let text)?: return text
        case let other?: throw fail("'\(field.rawValue)' must be a string, not \(other.typeName)")
        }
    }

    public func requiredString(_ field: some ParamField) throws(RPCErrorPayload) -> String {
        guard let text = try string(field), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw fail("'\(field.rawValue)' is required")
        }
        return text
    }

    public func bool(_ field: some ParamField) throws(RPCErrorPayload) -> Bool? {
        switch value(field) {
        case nil: return nil
        case .bool(let flag)?: return flag
        case let other?: throw fail("'\(field.rawValue)' must be true or false, not \(other.typeName)")
        }
    }

    public func integer(_ field: some ParamField) throws(RPCErrorPayload) -> Int? {
        switch value(field) {
        case nil: return nil
        case .number(let number)? where number == number.rounded() && abs(number) < 1e15: return Int(number)
        case let other?: throw fail("'\(field.rawValue)' must be an integer, not \(other.typeName)")
        }
    }

    /// A string, or a list of strings.
    public func strings(_ field: some ParamField) throws(RPCErrorPayload) -> [String]? {
        switch value(field) {
        case nil: return nil
        case .string(let text)?: return [text]
        case .array(let items)?:
            var result: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw fail("'\(field.rawValue)' must hold strings only, not \(item.typeName)") }
                result.append(text)
            }
            return result
        case let other?: throw fail("'\(field.rawValue)' must be a string or a list of strings, not \(other.typeName)")
        }
    }

    /// `interactive` (the default) or `batch`.
    public func requestClass(_ field: some ParamField) throws(RPCErrorPayload) -> JobClass {
        guard let text = try string(field) else { return .interactive }
        guard let value = JobClass(rawValue: text) else { throw fail("'\(field.rawValue)' must be 'interactive' or 'batch', not '\(text)'") }
        return value
    }

    /// A wrong value as an error names it: a string as written, anything else by its type.
    public static func describe(_ value: JSONValue) -> String {
        if case .string(let text) = value { return "\"\(text.prefix(40))\"" }
        return value.typeName
    }
}

/// A field of a method's params: its case name in Swift, its wire key as the raw value. The
/// one place a key is spelled: params types read and write through it.
public protocol ParamField: RawRepresentable<String>, CaseIterable, Sendable {}

/// Builds the params object of a request from a params type's fields.
public struct ParamsWriter<Field: ParamField> {
    public private(set) var object: [String: JSONValue] = [:]

    public init() {}

    public subscript(field: Field) -> JSONValue? {
        get { object[field.rawValue] }
        set { object[field.rawValue] = newValue }
    }

    public var json: JSONValue { .object(object) }
}

/// One method's params: read and checked in full from a request before any work is admitted,
/// and written by clients (the CLI) to build requests.
public protocol RPCParams: Sendable {
    associatedtype Field: ParamField
    /// Reads and checks the params; every mistake is one -32602 sentence.
    init(reading params: ParamsReader) throws(RPCErrorPayload)
    /// Reads `params` of a call to `method` (by default: as named fields, through a reader).
    init(method: String, params: JSONValue?) throws(RPCErrorPayload)
    /// The params as they go on the wire.
    var json: JSONValue { get }
    /// The wire keys this method takes.
    static var fieldNames: [String] { get }
}

extension RPCParams {
    /// Reads `params` of a call to `method`.
    public init(method: String, params: JSONValue?) throws(RPCErrorPayload) {
        try self.init(reading: ParamsReader(method: method, params: params, fields: Field.self))
    }

    public init(_ method: RPCMethod, params: JSONValue?) throws(RPCErrorPayload) {
        try self.init(method: method.rawValue, params: params)
    }

    public static var fieldNames: [String] { Field.allCases.map(\.rawValue) }
}
