import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Logging
import WSClient

/// The daemon with its ComfyUI door, in front of the fake backends on one virtual card, and
/// what a browser does with the page: HTTP with its Host and Origin, and `/ws`.
struct ComfyDoorBed {
    let bed: BackendTestBed
    let port: Int

    static func start(vram: UInt64 = 16 << 30, configure: @escaping (inout DaemonConfiguration) -> Void = { _ in })
        async throws -> ComfyDoorBed {
        let bed = try await BackendTestBed.startForJobs(vram: vram) { configuration in
            configuration.comfyUIListen = ListenAddress(host: "127.0.0.1", port: 0)
            configure(&configuration)
        }
        let url = try await bed.call(.status, nil, as: StatusResult.self).daemon.comfyUIDoorURL ?? ""
        return ComfyDoorBed(bed: bed, port: Int(url.split(separator: ":").last ?? "") ?? 0)
    }

    /// A request as the page sends it: `Host` and `Origin` name the door.
    func page(_ method: String, _ path: String, json: String? = nil, origin: String? = nil) async throws -> RawHTTP.Answer {
        try await Self.page(port: port, method, path, json: json, origin: origin)
    }

    static func page(port: Int, _ method: String, _ path: String, json: String? = nil, origin: String? = nil) async throws -> RawHTTP.Answer {
        let headers = [("Host", "127.0.0.1:\(port)"), ("Origin", origin ?? "http://127.0.0.1:\(port)")]
        return try await blocking {
            try RawHTTP.parse(RawHTTP.exchange(port: port, RawHTTP.request(method, path, json: json, headers: headers), timeout: 30))
        }
    }

    /// `POST /prompt` with the page's client id; the reply's JSON.
    func post(graph: JSONValue, clientID: String?, extra: JSONValue = [:]) async throws -> RawHTTP.Answer {
        var body: [String: JSONValue] = ["prompt": graph, "extra_data": extra]
        if let clientID { body["client_id"] = .string(clientID) }
        return try await page("POST", "/prompt", json: JSONValue.object(body).jsonText)
    }

    func stop() async throws { try await bed.stop() }

    /// The repository's txt2img graph with `steps` sampler steps and its own file prefix.
    static func txt2img(steps: Int = 3, prefix: String = "door") throws -> JSONValue {
        let data = try Data(contentsOf: URL(fileURLWithPath: BackendTestBed.workflowsDirectory + "/txt2img.json"))
        guard case .object(var nodes) = try JSONParser.parse(data),
              case .object(var sampler)? = nodes["5"], case .object(var inputs)? = sampler["inputs"],
              case .object(var save)? = nodes["7"], case .object(var saveInputs)? = save["inputs"] else { return [:] }
        inputs["steps"] = .number(Double(steps))
        sampler["inputs"] = .object(inputs)
        nodes["5"] = .object(sampler)
        saveInputs["filename_prefix"] = .string(prefix)
        save["inputs"] = .object(saveInputs)
        nodes["7"] = .object(save)
        return .object(nodes)
    }
}

/// A page's `/ws` through the door: every text message it got, in order, and whether it closed.
final class PageSocket: Sendable {
    let messages = LockedBox<[JSONValue]>([])
    let closed = LockedBox(false)
    private let connection = LockedBox<Task<Void, Never>?>(nil)

    static func open(port: Int, clientID: String?) -> PageSocket {
        let socket = PageSocket()
        let url = "ws://127.0.0.1:\(port)/ws" + (clientID.map { "?clientId=\($0)" } ?? "")
        let task = Task {
            _ = try? await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 24),
                                                   logger: Logger(label: "page")) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 24) {
                    if case .text(let text) = message, let json = try? JSONParser.parse(Data(text.utf8)) {
                        socket.messages.mutate { $0.append(json) }
                    }
                }
            }
            socket.closed.mutate { $0 = true }
        }
        socket.connection.mutate { $0 = task }
        return socket
    }

    /// The first message of `type` that `matches`, waiting for it (nil when none came).
    func first(_ type: String, within limit: Duration = .seconds(20),
               where matches: @escaping @Sendable (JSONValue) -> Bool = { _ in true }) async -> JSONValue? {
        _ = await eventually(within: limit) { self.find(type, matches) != nil }
        return find(type, matches)
    }

    private func find(_ type: String, _ matches: (JSONValue) -> Bool) -> JSONValue? {
        messages.value.first { $0["type"]?.stringValue == type && matches($0["data"] ?? .null) }?["data"]
    }

    /// The types of the messages about `promptID`, in order.
    func types(of promptID: String) -> [String] {
        messages.value.filter { $0["data"]?["prompt_id"]?.stringValue == promptID }.compactMap { $0["type"]?.stringValue }
    }

    func close() async {
        connection.value?.cancel()
        _ = await eventually { self.closed.value }
    }
}
