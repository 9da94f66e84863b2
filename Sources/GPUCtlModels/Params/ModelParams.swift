/// The params of a method that takes none (`ping`, `status`, `models.list`, …): absent, `{}`
/// and `[]` are fine, anything else is -32602.
public struct NoParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case none = "" }

    public init() {}

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        guard params.values.isEmpty else { throw Self.refusal(params.method) }
    }

    public init(method: String, params: JSONValue?) throws(RPCErrorPayload) {
        switch params {
        case nil, .object([:])?, .array([])?: return
        default: throw Self.refusal(method)
        }
    }

    private static func refusal(_ method: String) -> RPCErrorPayload {
        RPCErrorPayload(.invalidParams, "invalid params for \(method): it takes no params; send {} or leave params out")
    }

    public var json: JSONValue { [:] }
    public static var fieldNames: [String] { [] }
}

/// `models.load`: `{"model", "keep_alive"?, "class"?}`.
public struct ModelLoadParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case model, keepAlive = "keep_alive", requestClass = "class" }

    public var model: String
    public var keepAlive: KeepAlive?
    public var requestClass: JobClass

    public init(model: String, keepAlive: KeepAlive? = nil, requestClass: JobClass = .interactive) {
        self.model = model
        self.keepAlive = keepAlive
        self.requestClass = requestClass
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.requiredString(Field.model)
        requestClass = try params.requestClass(Field.requestClass)
        keepAlive = try params.string(Field.keepAlive).map { text throws(RPCErrorPayload) in
            try Self.keepAlive(parsing: text, method: params.method)
        }
    }

    /// A keep_alive as a person writes it (`30m`, `1h`, `-1m`), or the -32602 that says how to.
    public static func keepAlive(parsing text: String, method: String = RPCMethod.modelsLoad.rawValue) throws(RPCErrorPayload) -> KeepAlive {
        guard let parsed = KeepAlive(parsing: text) else {
            throw RPCErrorPayload(.invalidParams, "invalid params for \(method): 'keep_alive' is '\(text)'; write a duration like \"30m\" or \"1h\", or \"-1m\" for forever")
        }
        return parsed
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = .string(model)
        writer[.keepAlive] = keepAlive.map { .string($0.goDuration) }
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        return writer.json
    }
}

/// `models.unload`: `{"model"}` or `{"all": true}`.
public struct ModelUnloadParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case model, all }

    /// nil with `all`.
    public var model: String?
    public var all: Bool

    public init(model: String) {
        self.model = model
        all = false
    }

    public static var everything: ModelUnloadParams {
        var params = ModelUnloadParams(model: "")
        params.model = nil
        params.all = true
        return params
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        all = try params.bool(Field.all) ?? false
        model = try params.string(Field.model)
        guard all != (model != nil) else { throw params.fail("give either 'model' or \"all\": true") }
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = model.map(JSONValue.string)
        if all { writer[.all] = true }
        return writer.json
    }
}

/// `models.swap`: `{"model", "keep"?}`.
public struct ModelSwapParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case model, keep }

    public var model: String
    /// Unload only what must go for the model to fit.
    public var keep: Bool

    public init(model: String, keep: Bool = false) {
        self.model = model
        self.keep = keep
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        model = try params.requiredString(Field.model)
        keep = try params.bool(Field.keep) ?? false
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.model] = .string(model)
        if keep { writer[.keep] = true }
        return writer.json
    }
}

extension KeepAlive {
    /// As a Go duration Ollama and gpuctld read back: forever is `-1m`.
    public var goDuration: String {
        if case .forever = self { return "-1m" }
        return description
    }
}
