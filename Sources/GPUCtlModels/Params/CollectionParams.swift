/// What a collection's name may be: 1–128 letters, digits, `.`, `_` and `-` (it appears in
/// commands and file names, so nothing a shell would trip on).
public enum CollectionName {
    public static func check(_ name: String, reader: ParamsReader, field: some ParamField) throws(RPCErrorPayload) {
        let allowed = name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0) }
        guard (1...128).contains(name.count), allowed else {
            throw reader.fail("'\(field.rawValue)' must be 1 to 128 letters, digits, '.', '_' or '-', not \(ParamsReader.describe(.string(name)))")
        }
    }
}

/// `collections.add`: embeds `input` with `model` and stores each text, its vector and its
/// metadata in `collection` (created on first use; later adds may leave `model` out).
/// `metadata` is one object for every text, or a list with one object per text.
public struct CollectionsAddParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case collection, model, input, metadata, requestClass = "class" }

    public var collection: String
    public var model: String?
    public var input: [String]
    public var metadata: [[String: JSONValue]]?
    public var requestClass: JobClass = .batch

    public init(collection: String, model: String?, input: [String], metadata: [[String: JSONValue]]? = nil) {
        self.collection = collection
        self.model = model
        self.input = input
        self.metadata = metadata
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        collection = try params.requiredString(Field.collection)
        try CollectionName.check(collection, reader: params, field: Field.collection)
        model = try params.string(Field.model)
        guard let input = try params.strings(Field.input), !input.isEmpty, !input.contains(where: \.isEmpty) else {
            throw params.fail("'input' is required: a text or a list of texts, none of them empty")
        }
        self.input = input
        switch params.value(Field.metadata) {
        case nil: metadata = nil
        case .object(let object)?: metadata = Array(repeating: object, count: input.count)
        case .array(let items)?:
            var objects: [[String: JSONValue]] = []
            for item in items {
                guard case .object(let object) = item else { throw params.fail("'metadata' must hold objects only, not \(item.typeName)") }
                objects.append(object)
            }
            guard objects.count == input.count else {
                throw params.fail("'metadata' has \(objects.count) objects for \(input.count) texts; give one per text, or one object for all")
            }
            metadata = objects
        case let other?: throw params.fail("'metadata' must be an object or a list of objects, not \(other.typeName)")
        }
        if params.value(Field.requestClass) != nil { requestClass = try params.requestClass(Field.requestClass) }
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.collection] = .string(collection)
        writer[.model] = model.map(JSONValue.string)
        writer[.input] = .array(input.map(JSONValue.string))
        if let metadata {
            let same = metadata.count > 1 && metadata.allSatisfy { $0 == metadata[0] }
            writer[.metadata] = same ? .object(metadata[0]) : .array(metadata.map(JSONValue.object))
        }
        if requestClass != .batch { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// `collections.search`: the `k` items of `collection` nearest to `query` (embedded with the
/// collection's model) by cosine similarity.
public struct CollectionsSearchParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case collection, query, k, requestClass = "class" }

    /// How many results a search may ask for.
    public static let maximumK = 1_000

    public var collection: String
    public var query: String
    public var k: Int = 10
    public var requestClass: JobClass = .interactive

    public init(collection: String, query: String, k: Int = 10) {
        self.collection = collection
        self.query = query
        self.k = k
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        collection = try params.requiredString(Field.collection)
        try CollectionName.check(collection, reader: params, field: Field.collection)
        query = try params.requiredString(Field.query)
        if let k = try params.integer(Field.k) {
            guard (1...Self.maximumK).contains(k) else { throw params.fail("'k' must be between 1 and \(Self.maximumK), not \(k)") }
            self.k = k
        }
        requestClass = try params.requestClass(Field.requestClass)
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.collection] = .string(collection)
        writer[.query] = .string(query)
        if k != 10 { writer[.k] = .number(Double(k)) }
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// `collections.delete`: `{"collection": NAME}`.
public struct CollectionNameParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case collection }

    public var collection: String

    public init(collection: String) {
        self.collection = collection
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        collection = try params.requiredString(Field.collection)
        try CollectionName.check(collection, reader: params, field: Field.collection)
    }

    public var json: JSONValue { ["collection": .string(collection)] }
}
