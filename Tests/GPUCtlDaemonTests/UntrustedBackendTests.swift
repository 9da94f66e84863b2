import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// A backend whose identity changes while gpuctld runs (an upgrade, or another program that
/// took its port while it was down) gets no work until someone trusts it: queued jobs wait,
/// model requests are refused with the reason, status and doctor say so.
@Suite(.timeLimit(.minutes(3))) struct UntrustedBackendTests {
    static func status(_ bed: BackendTestBed) async throws -> StatusResult {
        try await bed.call(.status, as: StatusResult.self)
    }

    @Test func aComfyUIThatChangedGetsNoJobUntilItIsTrusted() async throws {
        let bed = try await BackendTestBed.startForJobs()
        #expect(await eventually { try await Self.status(bed).backends.comfyui.state == .up })
        bed.comfyui.setVersion("0.3.99")
        #expect(await eventually { try await Self.status(bed).backends.comfyui.untrusted != nil })
        let warning = try #require(try await Self.status(bed).backends.comfyui.untrusted)
        #expect(warning.contains("it was ComfyUI 0.3.64") && warning.contains("it is now ComfyUI 0.3.99") && warning.contains("gpuctl trust comfyui"))
        let doctor = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "doctor"])
        #expect(doctor.stdout.contains("gpuctl trust comfyui"), "\(doctor)")

        let job = try await bed.call(.comfySubmit, ["workflow": "invert", "params": ["width": 16]], as: JobInfo.self)
        // Not a timing: a job that was not held would have run long before this.
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await bed.call(.jobsGet, ["id": .string(job.id)], as: JobInfo.self).state == "queued")
        #expect(await bed.comfyui.historyIDs.isEmpty)

        let trusted = try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath, "trust", "comfyui"])
        #expect(trusted.status == 0 && trusted.stdout.hasPrefix("comfyui trusted as ComfyUI 0.3.99"), "\(trusted)")
        let done = try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self)
        #expect(done.state == "succeeded")
        #expect(try await Self.status(bed).backends.comfyui.untrusted == nil)
        try await bed.stop()
    }

    @Test func anOllamaThatChangedIsSentNoRequestUntilItIsTrustedOrBack() async throws {
        let bed = try await BackendTestBed.start()
        #expect(await eventually { try await Self.status(bed).backends.ollama.state == .up })
        bed.ollama.configure { $0.version = "6.6.6" }
        #expect(await eventually { try await Self.status(bed).backends.ollama.untrusted != nil })
        let failure = try await blocking { () -> RPCErrorPayload? in
            do {
                _ = try RPCClient(socketPath: bed.daemon.socketPath).callRaw("generate", params: ["model": "llama3.2:3b", "prompt": "hi"])
                return nil
            } catch RPCClientError.remote(let payload) { return payload }
        }
        #expect(failure?.data?.kind == "backend_unavailable" && failure?.message.contains("gpuctl trust ollama") == true, "\(String(describing: failure))")
        #expect(await bed.ollama.loadCounts.isEmpty)
        // The known Ollama back: trusted again without a word from anyone.
        bed.ollama.configure { $0.version = "0.33.0-rc2" }
        #expect(await eventually { try await Self.status(bed).backends.ollama.untrusted == nil })
        _ = try await bed.call(.generate, ["model": "llama3.2:3b", "prompt": "hi", "stream": false], as: InferenceResult.self)
        // Changed again, then trusted by RPC.
        bed.ollama.configure { $0.version = "0.34.0" }
        #expect(await eventually { try await Self.status(bed).backends.ollama.untrusted != nil })
        let result = try await bed.call(.backendsTrust, ["backend": "ollama"], as: BackendTrustResult.self)
        #expect(result == BackendTrustResult(backend: "ollama", identity: "Ollama 0.34.0", wasHeld: true))
        _ = try await bed.call(.generate, ["model": "llama3.2:3b", "prompt": "hi", "stream": false], as: InferenceResult.self)
        #expect(try await bed.errorKind(.backendsTrust, ["backend": "postgres"]) == "invalid_params")
        try await bed.stop()
    }
}
