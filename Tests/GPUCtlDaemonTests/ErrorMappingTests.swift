import ComfyUIClient
import GPUCtlCore
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlStore
import OllamaClient
import Testing

/// The one mapping from the daemon's errors to RPC error kinds and sentences.
@Suite struct ErrorMappingTests {
    static let gib: UInt64 = 1 << 30
    let budget = BudgetStatus(total: ByteSize(bytes: 12 * gib), reserve: ByteSize(bytes: gib), foreign: ByteSize(bytes: 0),
                              budget: ByteSize(bytes: 11 * gib))

    func mapped(_ error: any Error) -> (RPCErrorKind?, String) {
        let payload = RPCErrorPayload(error)
        return (payload.kind, payload.message)
    }

    @Test func ollamaAndComfyUIFailuresAreToldApartAndKeepTheirCause() {
        let ollama = OllamaError(kind: .unreachable, status: nil, message: "Ollama is unreachable (connection refused) at http://127.0.0.1:11434/api/ps")
        let comfy = ComfyUIError(kind: .unreachable, status: nil, message: "ComfyUI is unreachable (connection refused) at http://127.0.0.1:8188/queue")
        #expect(mapped(ollama) == (.backendUnavailable, "\(ollama.message); start Ollama (systemctl start ollama) or check --ollama-url"))
        #expect(mapped(comfy) == (.backendUnavailable, "\(comfy.message); start ComfyUI or check --comfyui-url"))
        #expect(mapped(OllamaError(kind: .http, status: 404, message: "model 'x' not found")).0 == .modelNotFound)
        #expect(mapped(OllamaError(kind: .http, status: 503, message: "busy")).0 == .overloaded)
        #expect(mapped(ComfyUIError(kind: .http, status: 400, message: "node 3 has no input")) == (.invalidParams, "node 3 has no input"))
        #expect(mapped(ComfyUIError(kind: .timeout, status: nil, message: "slow")).0 == .timeout)
    }

    @Test func aRefusalCarriesTheBudgetsNumbers() {
        let refusal = SchedulerRefusal(failure: .doesNotFit(model: "big", needed: 40 * Self.gib, budget: 11 * Self.gib, pinned: 2 * Self.gib),
                                       budget: budget)
        #expect(mapped(refusal) == (.doesNotFit, "big needs 40 GiB but can never fit: the budget is 11 GiB (12 GiB total − 1 GiB reserve − 0 B foreign) and pinned models hold 2 GiB; use a smaller model, lower --reserve, or unpin a model"))
        #expect(refusal.jobMessage("j1") == "job j1 needs 40 GiB of VRAM but can never fit: the budget is 11 GiB; lower the job's vram estimate or --reserve")
        #expect(mapped(SchedulerRefusal(failure: .unknownModel("nosuch"), budget: budget)).0 == .modelNotFound)
    }

    @Test func aFailedLoadHasItsCausesKindAndNamesTheFallback() {
        var refusal = SchedulerRefusal(failure: .loadFailed(model: "small", reason: "x"), budget: budget)
        refusal.loadError = OllamaError(kind: .timeout, status: nil, message: "Ollama did not answer within 300 s")
        refusal.fallbackFor = "big"
        #expect(mapped(refusal) == (.timeout, "Ollama could not load small: Ollama did not answer within 300 s; the model may be too slow for this card, or raise --load-timeout (it was tried as the fallback for big)"))
        // Without a cause: the Scheduler's reason, as a backend error.
        #expect(mapped(SchedulerRefusal(failure: .loadFailed(model: "small", reason: "out of memory"), budget: budget))
            == (.backendError, "Ollama could not load small: out of memory"))
    }

    @Test func modelJobAndDaemonErrorsHaveTheirKinds() {
        #expect(mapped(ModelError.notFound("lama3", suggestion: "llama3")) == (.modelNotFound, "model 'lama3' is neither in the catalog nor in Ollama; did you mean 'llama3'? see 'gpuctl ps --all', or pull it with 'ollama pull lama3'"))
        #expect(mapped(ModelError.notAnOllamaModel("sdxl.safetensors", .comfyui)).0 == .invalidParams)
        #expect(mapped(ModelError.stillResident("m")).0 == .backendError)
        #expect(mapped(JobError.notFound("j")) == (.jobNotFound, "no job j; list jobs with 'gpuctl jobs'"))
        #expect(mapped(JobError.alreadyEnded("j", .succeeded)) == (.invalidParams, "job j already ended as succeeded; there is nothing to cancel"))
        #expect(mapped(JobError.store(action: "could not queue the job", StoreError("disk full"))) == (.internal, "could not queue the job: disk full"))
        #expect(mapped(ShuttingDown(message: "stopping")) == (.shuttingDown, "stopping"))
        #expect(mapped(CancellationError()).0 == .cancelled)
        struct Unexpected: Error {}
        #expect(mapped(Unexpected()).0 == .internal)
        // What is already an RPC error passes through as it is.
        #expect(mapped(RPCErrorPayload(.invalidParams, "bad")) == (.invalidParams, "bad"))
    }

    @Test func everyKindHasItsOwnCodeExceptTheTwoRequestErrors() {
        let codes = RPCErrorKind.allCases.map(\.code)
        // too_large shares -32600 with invalid_request: both are "the request is not one".
        #expect(Set(codes).count == codes.count - 1)
        #expect(RPCErrorKind.notRunning.code == -32010 && RPCErrorKind.protocolError.code == -32012)
    }
}
