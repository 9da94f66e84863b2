import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `events.subscribe`: streams `DaemonEvent`s as `stream` notifications until the caller
/// cancels or hangs up (then the call ends `cancelled`), or the daemon stops (`shutting_down`).
struct EventsService: Sendable {
    let hub: EventHub

    func subscribe(_ params: RPCParams, id callID: JSONValue?, streamTo context: RPCCallContext) async throws -> Never {
        var filter: Set<String> = []
        if let names = try params.strings("types") {
            let known = DaemonEvent.filterNames
            for name in names where !known.contains(name) {
                throw params.fail("'types' takes event types or groups (\(known.joined(separator: ", "))), not '\(name)'")
            }
            filter = Set(names)
        }
        let id = callID ?? .null
        for await event in hub.subscribe(filter: filter) {
            try Task.checkCancellation()
            guard let data = try? JSONEncoder.rpc.encode(event) else { continue }
            context.stream(id, data: data)
        }
        try Task.checkCancellation()
        throw RPCErrorPayload(.shuttingDown, "the daemon is shutting down, which ends every subscription; subscribe again once it is back")
    }
}
