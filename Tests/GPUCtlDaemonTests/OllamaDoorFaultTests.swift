import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Bad input and bad clients at the door: none of it loads a model, wedges the door or costs
/// other clients their answers.
@Suite(.timeLimit(.minutes(3))) struct OllamaDoorFaultTests {
    @Test func malformedBodiesAndUnknownMethodsGetOllamasOwnAnswers() async throws {
        let bed = try await DoorBed.start()
        let malformed = try await bed.raw("POST", "/api/generate", json: "{oops")
        #expect(malformed.status == 400 && malformed.json["error"] != nil)
        let notAnObject = try await bed.raw("POST", "/api/chat", json: "[1,2]")
        #expect(notAnObject.status == 400)
        let badKeepAlive = try await bed.raw("POST", "/api/generate", json: #"{"model":"llama3.2:3b","prompt":"hi","keep_alive":"300"}"#)
        #expect(badKeepAlive.status == 400 && badKeepAlive.json["error"] == #"time: missing unit in duration "300""#, "\(badKeepAlive.status) \(badKeepAlive.text)")
        let patch = try await bed.raw("PATCH", "/api/generate", json: "{}")
        #expect(patch.status >= 400 && patch.status < 500)
        #expect(await bed.bed.ollama.loadCounts.isEmpty)
        let fine = try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"hi","stream":false}"#)
        #expect(fine.status == 200)
        try await bed.stop()
    }

    @Test func aClientThatNeverReadsIsDroppedAndOthersAreServed() async throws {
        let bed = try await DoorBed.start { $0.streamIdleTimeout = .seconds(1) }
        // 256 MB of NDJSON: more than the sockets between the fake, the door and the client can
        // hold (their buffers grow to tens of MB), so the door must stop reading Ollama, then give up.
        bed.bed.ollama.configure { $0.tokens = 4096; $0.chunkBytes = 64 << 10 }
        let port = bed.port
        let stalled = try await blocking { () -> Int32 in
            let socket = try RawHTTP.connect(port: port, timeout: 30, receiveBuffer: 4096)
            let request = RawHTTP.request("POST", "/api/generate", json: #"{"model":"small","prompt":"hi"}"#)
            _ = request.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return socket
        }
        #expect(await eventually { await !bed.bed.ollama.inFlight.isEmpty })
        // Once the idle limit passes with the client's writes stuck, the door gives up on it.
        #expect(await eventually(within: .seconds(20)) {
            let text = try await bed.bed.call(.metrics, nil, as: MetricsResult.self).text
            return text.contains(#"gpuctl_door_requests_total{door="ollama",endpoint="/api/generate",status="200"} 1"#)
        })
        // The door closed the stalled connection: reading it now ends with what the sockets
        // held, far short of the 256 MB answer, at the end of the stream (not a timeout).
        let (drained, ended) = try await blocking { () -> (Int, Bool) in
            var total = 0
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(stalled, &buffer, buffer.count, 0)
                if n == 0 { close(stalled); return (total, true) }
                if n < 0 { close(stalled); return (total, false) }
                total += n
            }
        }
        #expect(ended && drained < 128 << 20, "\(drained) bytes, end of stream: \(ended)")
        bed.bed.ollama.configure { $0.tokens = 12; $0.chunkBytes = nil }
        let other = try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"hi","stream":false}"#)
        #expect(other.status == 200 && other.json["done"] == true)
        try await bed.stop()
    }

    @Test func doorRequestsInFlightAreNamedInModelsList() async throws {
        let bed = try await DoorBed.start()
        bed.bed.ollama.configure { $0.tokenDelay = .milliseconds(100) }
        let long = Task { try await bed.raw("POST", "/api/generate", json: #"{"model":"small","prompt":"hi"}"#) }
        #expect(await eventually {
            let list = try await bed.bed.call(.modelsList, nil, as: ModelsListResult.self)
            return list.models.first { $0.name == "llama3.2:3b" }?.sources?["ollama-door"] == 1
        })
        _ = try await long.value
        let list = try await bed.bed.call(.modelsList, nil, as: ModelsListResult.self)
        #expect(list.models.first { $0.name == "llama3.2:3b" }?.sources == nil)
        try await bed.stop()
    }

    @Test func theDoorIsLoopbackOnlyUnlessAllowed() throws {
        #expect(throws: ConfigurationError.self) {
            try DaemonConfiguration.resolve(flags: DaemonFlags(arguments: ["--ollama-listen", "0.0.0.0:11435"]), environment: [:])
        }
        do {
            _ = try DaemonConfiguration.resolve(flags: DaemonFlags(), environment: ["GPUCTL_OLLAMA_LISTEN": "192.168.1.2:11435"])
            Issue.record("a remote address was accepted")
        } catch {
            #expect(error.message.contains("not a loopback address") && error.message.contains("--ollama-allow-remote"), "\(error)")
        }
        let allowed = try DaemonConfiguration.resolve(
            flags: DaemonFlags(arguments: ["--ollama-listen", "0.0.0.0:11435", "--ollama-allow-remote", "--ollama-queue-timeout", "30s"]),
            environment: [:])
        #expect(allowed.ollamaListen == ListenAddress(host: "0.0.0.0", port: 11435) && allowed.ollamaQueueTimeout == .seconds(30))
    }
}
