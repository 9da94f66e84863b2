import ComfyUIClient
import Foundation
@testable import GPUCtlCore
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlStore
import Testing

/// Numbers that used to trap the daemon (a crash, and under Restart=on-failure a crash loop
/// when the value is stored or configured): from a backend, a catalog, a flag or a client.
/// Each is refused or bounded instead.
@Suite struct HostileNumberTests {
    @Test func hugeNumbersFromComfyUIsWebSocketAreNotTrusted() {
        for huge in ["1e30", "9223372036854775808", "-1e300"] {
            let status = ComfyEvent(text: Array(#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":\#(huge)}}}}"#.utf8))
            #expect(status == .status(queueRemaining: 0, sid: nil), "\(huge)")
            let progress = ComfyEvent(text: Array(#"{"type":"progress","data":{"prompt_id":"p","value":\#(huge),"max":\#(huge)}}"#.utf8))
            #expect(progress == .progress(promptID: "p", node: nil, value: 0, max: 0), "\(huge)")
        }
        #expect(ComfyEvent(text: Array(#"{"type":"progress","data":{"prompt_id":"p","value":3,"max":20}}"#.utf8))
            == .progress(promptID: "p", node: nil, value: 3, max: 20))
    }

    @Test func aCatalogSizeBeyondUInt64IsAProblemNotACrash() {
        do {
            _ = try CatalogParser.parse(Data(#"{"models": {"big": {"backend": "ollama", "vram": 1e20}}}"#.utf8), file: "models.json")
            Issue.record("a 1e20-byte model was accepted")
        } catch {
            #expect(error.description.contains("vram"), "\(error)")
        }
    }

    @Test func durationsBeyondWhatGoHoldsAreRefusedOrCut() throws {
        #expect(KeepAlive(parsing: "99999999999999h") == nil)
        #expect(KeepAlive(parsing: "-99999999999999h") == nil)
        #expect(KeepAlive(parsing: "30m") == .seconds(1800))
        let cut = KeepAlive(seconds: 1e300)
        #expect(cut == .seconds(KeepAlive.longest) && !cut.description.isEmpty)
        #expect(KeepAlive(seconds: .infinity) == .seconds(KeepAlive.longest))
        #expect(throws: ConfigurationError.self) {
            try DaemonConfiguration.resolve(flags: DaemonFlags(arguments: ["--job-timeout", "999999999999h"]), environment: [:])
        }
        #expect(throws: ConfigurationError.self) {
            try DaemonConfiguration.resolve(flags: DaemonFlags(), environment: ["GPUCTL_LOAD_TIMEOUT": "2562047h"])
        }
    }

    @Test func sizesNearUInt64MaxSumWithoutOverflow() {
        let huge = UInt64.max - 5
        #expect([huge, huge, 7].saturatingSum() == .max)
        #expect(huge.addingSaturating(3) == UInt64.max - 2)
        #expect(UInt64(jsonNumber: 1e20) == nil && UInt64(jsonNumber: -1) == nil && UInt64(jsonNumber: 4096) == 4096)
        #expect(Int(jsonNumber: 1e300) == nil && Int(jsonNumber: 0.5) == nil && Int(jsonNumber: -12) == -12)
        // The Scheduler's figures: two models that report nearly all of UInt64 each.
        var scheduler = Scheduler(budget: 16 << 30, policies: [:])
        _ = scheduler.handle(.observed(["a": huge, "b": huge]), now: .now)
        #expect(scheduler.usedBytes == .max)
        // A raw graph naming many catalog checkpoints of an absurd size.
        let catalog = Catalog(models: [ModelSpec(name: "a.safetensors", backend: .comfyui, vram: ByteSize(bytes: huge)),
                                       ModelSpec(name: "b.safetensors", backend: .comfyui, vram: ByteSize(bytes: huge))])
        let spec = try? JobService.fromGraph(["1": ["class_type": "A", "inputs": ["x": "a.safetensors", "y": "b.safetensors"]]],
                                             catalog: catalog, timeout: 10, vram: nil)
        #expect(spec?.vramBytes == .max)
    }

    @Test func aStoredTimeoutTooLargeForADurationIsBounded() {
        for stored in [1e30, .infinity, -5] {
            let record = JobRecord(id: "j", kind: .comfyui, jobClass: .batch, params: #"{"graph":{}}"#, workflow: nil,
                                   vramBytes: 0, timeoutSeconds: stored, promptID: "j")
            #expect(AdmittedJob(record).ticket.timeout == .seconds(SubmitParams.longestTimeout), "\(stored)")
        }
    }
}
