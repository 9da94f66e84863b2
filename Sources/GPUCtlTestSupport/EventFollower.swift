import Foundation
import GPUCtlModels
import GPUCtlRPC
import NIOConcurrencyHelpers

/// Follows `events.subscribe` on a thread of its own and keeps every event, for tests to wait on.
public final class EventFollower: Sendable {
    private let client: RPCClient
    private let state = NIOLockedValueBox<(events: [DaemonEvent], ended: RPCClientError?)>(([], nil))

    /// Subscribes (with `types` as the filter when given) and returns once the `subscribed`
    /// event arrived, so everything after this call is seen.
    public static func start(socketPath: String, types: [String]? = nil) async throws -> EventFollower {
        let follower = try EventFollower(client: RPCClient(socketPath: socketPath, timeout: .seconds(120)))
        let params: JSONValue = types.map { ["types": .array($0.map(JSONValue.string))] } ?? [:]
        let thread = Thread { [follower] in
            do throws(RPCClientError) {
                _ = try follower.client.callRaw(RPCMethod.eventsSubscribe.rawValue, params: params) { data in
                    guard let event = try? JSONDecoder().decode(DaemonEvent.self, from: data) else { return }
                    follower.state.withLockedValue { $0.events.append(event) }
                }
            } catch {
                follower.state.withLockedValue { $0.ended = error }
            }
        }
        thread.start()
        guard await eventually(within: .seconds(20), { !follower.events.isEmpty || follower.ended != nil }),
              follower.events.first?.type == .subscribed else {
            throw RPCClientError.protocolError("events.subscribe did not start: \(follower.ended.map { "\($0)" } ?? "no subscribed event")")
        }
        return follower
    }

    private init(client: RPCClient) { self.client = client }

    public var events: [DaemonEvent] { state.withLockedValue { $0.events } }
    /// How the subscription ended (nil while it runs).
    public var ended: RPCClientError? { state.withLockedValue { $0.ended } }

    /// Waits until an event satisfies `match`; returns it, or nil after `limit`.
    public func first(within limit: Duration = .seconds(20), where match: @escaping @Sendable (DaemonEvent) -> Bool) async -> DaemonEvent? {
        _ = await eventually(within: limit) { self.events.contains(where: match) }
        return events.first(where: match)
    }

    /// Hangs up: the daemon ends the subscription.
    public func stop() { client.hangUp() }
}
