import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `events.subscribe`: streams `DaemonEvent`s as `stream` notifications until the caller
/// cancels or hangs up (then the call ends `cancelled`), or the daemon stops (`shutting_down`).
struct EventsService: Sendable {
    let hub: EventHub

    func subscribe(_ params: EventsSubscribeParams, id callID: JSONValue?, streamTo context: RPCCallContext) async throws -> Never {
        let filter = Set(params.types)
        let stream = context.stream(for: callID ?? .null)
        for await event in hub.subscribe(filter: filter) {
            try Task.checkCancellation()
            guard let data = try? JSONEncoder.rpc.encode(event) else { continue }
            stream.send(data)
        }
        try Task.checkCancellation()
        throw ShuttingDown(message: "the daemon is shutting down, which ends every subscription; subscribe again once it is back")
    }
}
