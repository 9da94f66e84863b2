import AsyncHTTPClient
import ComfyUIClient
import Foundation
import GPUCtlTestSupport
import Logging
import Testing
import WSClient

/// ComfyUIClient's view of the card and the fake's /ws, over real HTTP on 127.0.0.1.
@Suite(.timeLimit(.minutes(3))) struct ComfyUISystemTests {
    @Test func comfyUISystemStatsReportTheSharedCard() async throws {
        let gpu = VirtualGPU(totalBytes: 24 << 30)
        let fake = FakeComfyUI(gpu: gpu)
        try await fake.start()
        try await withHTTPClient(ClientHarness.httpConfiguration) { http in
            let client = ComfyUIClient(baseURL: fake.baseURL, httpClient: http, quickTimeout: .seconds(10), logger: Logger(label: "test"))
            await gpu.allocate("ollama:x", bytes: 4 << 30)
            let stats = try await client.systemStats()
            #expect(stats.system.comfyuiVersion == "0.3.64")
            #expect(stats.devices.first?.vramTotal == 24 << 30)
            #expect(stats.devices.first?.vramFree == 20 << 30)
            await fake.stop()
            await #expect { _ = try await client.systemStats() } throws: { ($0 as? ComfyUIError)?.kind == .unreachable }
        }
    }

    @Test func comfyUIWebSocketSaysStatusFirst() async throws {
        let fake = FakeComfyUI(gpu: VirtualGPU(totalBytes: 8 << 30))
        try await fake.start()
        let url = fake.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/ws?clientId=gpuctld-test"
        let frames = LockedBox<[String]>([])
        try await WebSocketClient.connect(url: url, logger: Logger(label: "test")) { inbound, outbound, _ in
            try await outbound.write(.text(#"{"type":"feature_flags","data":{"supports_preview_metadata":true}}"#))
            for try await message in inbound.messages(maxSize: 1 << 20) {
                if case .text(let text) = message { frames.mutate { $0.append(text) } }
                if frames.value.count == 2 { break }
            }
        }
        let received = frames.value
        #expect(received.count == 2)
        #expect(received.first == #"{"data":{"sid":"gpuctld-test","status":{"exec_info":{"queue_remaining":0}}},"type":"status"}"#)
        #expect(received.last?.contains(#""type":"feature_flags""#) == true)
        await fake.stop()
    }
}
