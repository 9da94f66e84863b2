/// A fault the fault matrix and the soak inject into the fakes while gpuctld works.
public enum InjectedFault: String, CaseIterable, Sendable {
    /// Ollama's port refuses connections until healed.
    case ollamaRefusing
    /// Ollama sends its first byte later than gpuctld's first-byte limit, until healed.
    case ollamaSlowFirstByte
    /// The next two Ollama requests get 500.
    case ollama500
    /// The next stream is cut off after three chunks.
    case ollamaStreamCut
    /// The next stream ends with Ollama's mid-stream error line.
    case ollamaStreamError
    /// Ollama restarts and forgets its models.
    case ollamaRestart
    /// ComfyUI closes every WebSocket.
    case comfyDropSocket
    /// ComfyUI restarts and forgets its queue, its history and its checkpoints.
    case comfyRestart
    /// ComfyUI's next prompt fails with an execution error.
    case comfyExecutionError
    /// ComfyUI's /free answers and frees nothing, until healed.
    case comfyFreeNothing
    /// Another program takes 3 GiB of the card, until healed.
    case foreignVRAM
}

/// Injects faults into the fake backends and heals the lasting ones.
public struct FaultInjector: Sendable {
    public let ollama: FakeOllama
    public let comfyui: FakeComfyUI
    public let gpu: VirtualGPU
    /// How late a slow first byte is: longer than the daemon's `--load-timeout`.
    public var slowFirstByte: Duration

    public init(ollama: FakeOllama, comfyui: FakeComfyUI, gpu: VirtualGPU, slowFirstByte: Duration) {
        self.ollama = ollama
        self.comfyui = comfyui
        self.gpu = gpu
        self.slowFirstByte = slowFirstByte
    }

    static let intruder = "foreign:intruder"

    public func inject(_ fault: InjectedFault) async throws {
        switch fault {
        case .ollamaRefusing: await ollama.stop()
        case .ollamaSlowFirstByte: ollama.configure { [slowFirstByte] in $0.firstByteDelay = slowFirstByte }
        case .ollama500: ollama.failNext(2, status: 500, message: "injected failure")
        case .ollamaStreamCut: ollama.configure { $0.dropNextStreamAfter = 3 }
        case .ollamaStreamError: ollama.configure { $0.errorNextStreamAfter = (2, "injected stream error") }
        case .ollamaRestart: try await ollama.restart()
        case .comfyDropSocket: await comfyui.dropWebSockets()
        case .comfyRestart: try await comfyui.restart()
        case .comfyExecutionError: comfyui.configure { $0.failNextExecutions = (1, "RuntimeError", "injected execution error") }
        case .comfyFreeNothing: comfyui.configure { $0.ignoreFree = true }
        case .foreignVRAM: _ = await gpu.allocate(Self.intruder, bytes: 3 << 30)
        }
    }

    /// Ends every lasting fault: Ollama answers again and promptly, /free frees, the foreign
    /// program has exited. The one-shot faults are spent or cleared.
    public func heal() async throws {
        ollama.configure {
            $0.firstByteDelay = .zero
            $0.dropNextStreamAfter = nil
            $0.errorNextStreamAfter = nil
            $0.failNext = (0, 500, "")
        }
        comfyui.configure {
            $0.ignoreFree = false
            $0.failNextExecutions.count = 0
        }
        await gpu.release(Self.intruder)
        if !ollama.isServing { try await ollama.start() }
    }
}
