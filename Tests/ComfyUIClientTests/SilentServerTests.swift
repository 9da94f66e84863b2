import ComfyUIClient
import Foundation
import GPUCtlTestSupport
import Logging
import Testing

/// A ComfyUI that accepts connections and never answers (one starting, stopping or wedged):
/// following its /ws neither hangs nor outlives its task.
@Suite(.timeLimit(.minutes(2))) struct SilentServerTests {
    /// A TCP port on 127.0.0.1 that completes handshakes (the kernel's backlog) and never reads.
    final class SilentListener: @unchecked Sendable {
        let descriptor: Int32
        let port: Int

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(descriptor, generic, length) == 0 && listen(descriptor, 16) == 0
                        && getsockname(descriptor, generic, &length) == 0
                }
            }
            guard bound else { close(descriptor); throw POSIXError(.EADDRNOTAVAIL) }
            self.descriptor = descriptor
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(descriptor) }
    }

    @Test func anUnansweredUpgradeIsADropAndCancellationEndsTheFollower() async throws {
        let silent = try SilentListener()
        try await withHTTPClient(ClientHarness.httpConfiguration) { http in
            let client = ComfyUIClient(baseURL: "http://127.0.0.1:\(silent.port)", httpClient: http,
                                       quickTimeout: .milliseconds(100), logger: Logger(label: "test"))
            let items = LockedBox<[ComfyStreamItem]>([])
            let follower = Task { await client.follow(clientID: "silent") { item in items.mutate { $0.append(item) } } }
            let dropped = await eventually(within: .seconds(30)) {
                items.value.contains { if case .disconnected(let reason) = $0 { reason.contains("did not answer the WebSocket upgrade") } else { false } }
            }
            #expect(dropped, "\(items.value)")
            // Cancelled while an attempt waits on the silent port: the follower returns.
            follower.cancel()
            await follower.value
            #expect(!items.value.contains { if case .connected = $0 { true } else { false } })
        }
    }
}
