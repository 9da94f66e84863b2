/// `comfy.submit`: a workflow with its parameter values, or a raw API-format graph; and the
/// job's class, timeout and VRAM estimate.
public struct SubmitParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case workflow, values = "params", graph, requestClass = "class", timeout, vram }

    /// What to run.
    public enum Work: Sendable, Equatable {
        /// A template from Workflows/ and the values of its parameters.
        case workflow(String, values: [String: JSONValue])
        /// A ComfyUI API-format graph, as it is.
        case graph(JSONValue)
    }

    /// The largest image a client may send as an `image` parameter's bytes (base64 in
    /// `{"name", "data"}`), so that its base64 fits one request line (8 MiB).
    public static let largestImage = 5 << 20

    /// A timeout above this is a mistake, not a job: 30 days.
    public static let longestTimeout: Double = 30 * 24 * 3600

    public var work: Work
    public var requestClass: JobClass = .interactive
    /// Seconds; nil: the daemon's default.
    public var timeout: Double?
    /// Bytes; nil: from the catalog.
    public var vram: UInt64?

    public init(_ work: Work) {
        self.work = work
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        let workflow = try params.string(Field.workflow)
        if let value = params.value(Field.timeout) {
            guard case .number(let seconds) = value, seconds > 0 else { throw params.fail("'timeout' must be a number of seconds above 0") }
            guard seconds <= Self.longestTimeout else {
                throw params.fail("'timeout' is \(seconds) seconds, more than 30 days; give a number of seconds up to \(Int(Self.longestTimeout))")
            }
            timeout = seconds
        }
        switch params.value(Field.vram) {
        case nil: break
        case .number(let bytes)? where bytes >= 0 && bytes < 0x1p63: vram = UInt64(bytes)
        case .number?: throw params.fail("'vram' must be a number of bytes from 0 to 2^63, or a size like 6GiB")
        case .string(let text)?:
            guard let size = ByteSize(parsing: text) else { throw params.fail("'vram' must be a size like 6GiB, not '\(text)'") }
            vram = size.bytes
        case let other?: throw params.fail("'vram' must be a size like 6GiB or a number of bytes, not \(other.typeName)")
        }
        switch (workflow, params.value(Field.graph)) {
        case (let name?, nil):
            var values: [String: JSONValue] = [:]
            switch params.value(Field.values) {
            case nil: break
            case .object(let object)?: values = object
            case let other?: throw params.fail("'params' must be an object of parameter values, not \(other.typeName)")
            }
            work = .workflow(name, values: values)
        case (nil, let graph?):
            guard params.values[Field.values.rawValue] == nil else {
                throw params.fail("'params' goes with 'workflow'; a raw 'graph' has its values in it")
            }
            work = .graph(graph)
        case (_?, _?):
            throw params.fail("send either 'workflow' (with 'params') or 'graph', not both")
        case (nil, nil):
            throw params.fail("'workflow' (a name from 'gpuctl workflows') or 'graph' (a ComfyUI API-format graph) is required")
        }
        requestClass = try params.requestClass(Field.requestClass)
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        switch work {
        case .workflow(let name, let values):
            writer[.workflow] = .string(name)
            writer[.values] = .object(values)
        case .graph(let graph):
            writer[.graph] = graph
        }
        if requestClass != .interactive { writer[.requestClass] = .string(requestClass.rawValue) }
        writer[.timeout] = timeout.map(JSONValue.number)
        writer[.vram] = vram.map { .number(Double($0)) }
        return writer.json
    }
}

/// `jobs.list`: `{"limit"?, "state"?}`: newest first, up to `limit`, only some states.
public struct JobsListParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case limit, states = "state" }

    public var limit: Int
    /// nil: every state.
    public var states: [JobState]?

    public init(limit: Int = 100, states: [JobState]? = nil) {
        self.limit = limit
        self.states = states
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        limit = try params.integer(Field.limit) ?? 100
        guard limit > 0 else { throw params.fail("'limit' must be above 0") }
        if let names = try params.strings(Field.states) {
            var states: [JobState] = []
            for name in names { states.append(try Self.state(named: name)) }
            self.states = states
        }
    }

    /// A job state by name, or the -32602 that lists them.
    public static func state(named name: String) throws(RPCErrorPayload) -> JobState {
        guard let state = JobState(rawValue: name) else {
            throw RPCErrorPayload(.invalidParams, "invalid params for \(RPCMethod.jobsList.rawValue): 'state' must name job states (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))), not '\(name)'")
        }
        return state
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        writer[.limit] = .number(Double(limit))
        writer[.states] = states.map { .array($0.map { .string($0.rawValue) }) }
        return writer.json
    }
}

/// `jobs.get`, `jobs.cancel`, `jobs.wait`: `{"id"}`.
public struct JobIDParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case id }

    public var id: String

    public init(id: String) {
        self.id = id
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        id = try params.requiredString(Field.id)
    }

    public var json: JSONValue { ["id": .string(id)] }
}

/// `events.subscribe`: `{"types"?}`: only these event types or groups.
public struct EventsSubscribeParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case types }

    /// Empty: every event.
    public var types: [String]

    public init(types: [String] = []) {
        self.types = types
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        let names = try params.strings(Field.types) ?? []
        let known = DaemonEvent.filterNames
        for name in names where !known.contains(name) {
            throw params.fail("'types' takes event types or groups (\(known.joined(separator: ", "))), not '\(name)'")
        }
        types = names
    }

    public var json: JSONValue {
        var writer = ParamsWriter<Field>()
        if !types.isEmpty { writer[.types] = .array(types.map(JSONValue.string)) }
        return writer.json
    }
}

/// `cancel`: `{"id"}`: the id of another call on the same connection.
public struct CancelParams: RPCParams, Equatable {
    public enum Field: String, ParamField { case id }

    public var id: JSONValue

    public init(id: JSONValue) {
        self.id = id
    }

    public init(reading params: ParamsReader) throws(RPCErrorPayload) {
        guard let id = params.value(Field.id) else {
            throw RPCErrorPayload(.invalidParams, "invalid params for cancel: send {\"id\": <the id of the call to stop>}")
        }
        self.id = id
    }

    public var json: JSONValue { ["id": id] }
}
