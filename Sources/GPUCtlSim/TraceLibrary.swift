import GPUCtlCore
import GPUCtlModels

/// The traces shipped in Traces/ (made here from fixed seeds, so `gpuctl-sim generate --named`
/// writes them again byte for byte), and random ones from a seed.
public enum TraceLibrary {
    static let gib: UInt64 = 1 << 30
    static func size(_ gib: Double) -> ByteSize { ByteSize(bytes: UInt64(gib * Double(Self.gib))) }

    /// The named traces, by file name (without .jsonl).
    public static let names = ["coding-day", "batch-image-night", "chat-illustrate", "abac", "storyboard"]

    public static func named(_ name: String) -> TraceFile? {
        switch name {
        case "coding-day": codingDay()
        case "batch-image-night": batchImageNight()
        case "chat-illustrate": chatIllustrate()
        case "abac": abac()
        case "storyboard": storyboard()
        default: nil
        }
    }

    static let sdxl = Trace.Workflow(name: "txt2img-sdxl", checkpoints: ["sd_xl_base_1.0.safetensors"],
                                     checkpointBytes: size(6.5), activationBytes: size(2.5), secondsPerStep: 0.25)
    static let sd15 = Trace.Workflow(name: "txt2img-sd15", checkpoints: ["v1-5-pruned-emaonly.safetensors"],
                                     checkpointBytes: size(4), activationBytes: size(2), secondsPerStep: 0.12)
    static let flux = Trace.Workflow(name: "flux-dev", checkpoints: ["flux1-dev-fp8.safetensors", "t5xxl_fp8.safetensors"],
                                     checkpointBytes: size(11), activationBytes: size(3), secondsPerStep: 0.6)
    static let upscale = Trace.Workflow(name: "upscale-4x", checkpoints: ["4x-UltraSharp.pth"],
                                        checkpointBytes: size(0.1), activationBytes: size(1.5), secondsPerStep: 0.5)

    /// A working day in an editor: completions from a small code model in bursts while typing,
    /// chat with a larger one now and then, embeddings of changed files in the background.
    static func codingDay() -> TraceFile {
        var random = SeededRandom(seed: 14_001)
        let header = Trace.Header(
            trace: "coding-day", description: "8 hours in an editor: completions in bursts, chat with a larger model, background embeddings",
            card: size(16),
            models: [
                .init(name: "qwen2.5-coder:7b", bytes: size(5.2), tokensPerSecond: 70, promptTokensPerSecond: 2_500, isDefault: true),
                .init(name: "qwen2.5-coder:14b", bytes: size(9.6), tokensPerSecond: 35, promptTokensPerSecond: 1_200),
                .init(name: "nomic-embed-text", bytes: size(0.6), tokensPerSecond: 1, promptTokensPerSecond: 8_000),
            ], workflows: [])
        var arrivals: [Trace.Arrival] = []
        var time = 0.0
        while time < 8 * 3_600 {
            // A burst of typing: completions every second or two.
            for _ in 0..<(5 + random.below(20)) {
                time += 0.5 + random.exponential(mean: 1.5)
                arrivals.append(.ollama(at: time, model: "qwen2.5-coder:7b", promptTokens: 1_500 + random.below(2_000),
                                        outputTokens: 10 + random.below(60), client: "editor"))
            }
            if random.below(3) == 0 {
                time += random.exponential(mean: 20)
                arrivals.append(.ollama(at: time, model: "qwen2.5-coder:14b", promptTokens: 2_000 + random.below(6_000),
                                        outputTokens: 200 + random.below(600), client: "chat"))
            }
            if random.below(4) == 0 {
                for _ in 0..<(3 + random.below(10)) {
                    time += random.exponential(mean: 0.3)
                    arrivals.append(.ollama(at: time, model: "nomic-embed-text", promptTokens: 500 + random.below(1_500),
                                            outputTokens: 0, requestClass: .batch, client: "indexer"))
                }
            }
            time += random.exponential(mean: 90)
        }
        return TraceFile(header: header, arrivals: arrivals)
    }

    /// A night of queued image jobs (SDXL, some Flux, upscales), with an LLM writing prompts for them.
    static func batchImageNight() -> TraceFile {
        var random = SeededRandom(seed: 14_002)
        let header = Trace.Header(
            trace: "batch-image-night", description: "6 hours of queued image work with an LLM writing the prompts",
            card: size(16),
            models: [.init(name: "llama3.1:8b", bytes: size(6.2), tokensPerSecond: 45, promptTokensPerSecond: 1_500, isDefault: true)],
            workflows: [sdxl, flux, upscale])
        var arrivals: [Trace.Arrival] = []
        var time = 0.0
        while time < 6 * 3_600 {
            time += random.exponential(mean: 40)
            arrivals.append(.ollama(at: time, model: "llama3.1:8b", promptTokens: 300 + random.below(500),
                                    outputTokens: 80 + random.below(200), requestClass: .batch, client: "prompter"))
            let workflow = [sdxl, sdxl, sdxl, flux, upscale][random.below(5)]
            time += random.exponential(mean: 5)
            arrivals.append(.comfy(at: time, workflow: workflow.name, steps: workflow.name == upscale.name ? 4 : 20 + random.below(20),
                                   client: "queue"))
        }
        return TraceFile(header: header, arrivals: arrivals)
    }

    /// Chat with a 7 GiB model on a 12 GiB card, with an SD 1.5 illustration every few turns:
    /// its checkpoint (4 GiB) fits beside the model by catalog weights, its sampling (2 GiB
    /// more) does not, the case where admission by catalog weights ran the card out of memory.
    static func chatIllustrate() -> TraceFile {
        var random = SeededRandom(seed: 14_003)
        let header = Trace.Header(
            trace: "chat-illustrate", description: "2 hours of chat with an SD 1.5 illustration every few turns, on a 12 GiB card",
            card: size(12),
            models: [.init(name: "llama3.1:8b-q8", bytes: size(7), tokensPerSecond: 40, promptTokensPerSecond: 1_500, isDefault: true)],
            workflows: [sd15])
        var arrivals: [Trace.Arrival] = []
        var time = 0.0
        while time < 2 * 3_600 {
            for _ in 0..<(2 + random.below(5)) {
                time += 10 + random.exponential(mean: 30)
                arrivals.append(.ollama(at: time, model: "llama3.1:8b-q8", promptTokens: 500 + random.below(3_000),
                                        outputTokens: 100 + random.below(400), client: "chat"))
            }
            time += 2 + random.exponential(mean: 5)
            arrivals.append(.comfy(at: time, workflow: sd15.name, steps: 25, requestClass: .interactive, client: "chat"))
        }
        return TraceFile(header: header, arrivals: arrivals)
    }

    /// A B A C A B A C … with three 7 GiB models on a 16 GiB card (two fit): a broker that
    /// evicts the least recently used one evicts the one needed next.
    static func abac() -> TraceFile {
        let header = Trace.Header(
            trace: "abac", description: "the A B A C alternation, three 7 GiB models on a 16 GiB card",
            card: size(16),
            models: ["a", "b", "c"].map { .init(name: "model-\($0)", bytes: size(7), tokensPerSecond: 50, promptTokensPerSecond: 2_000) },
            workflows: [])
        let pattern = ["model-a", "model-b", "model-a", "model-c"]
        let arrivals = (0..<400).map { index in
            Trace.Arrival.ollama(at: Double(index) * 3, model: pattern[index % 4], promptTokens: 400, outputTokens: 40, client: "script")
        }
        return TraceFile(header: header, arrivals: arrivals)
    }

    /// A storyboard: a script model writes a scene, an image job draws it, 20 times over.
    static func storyboard() -> TraceFile {
        let header = Trace.Header(
            trace: "storyboard", description: "20 LLM steps and 20 image steps, alternating every 15 s, on a 12 GiB card",
            card: size(12),
            models: [.init(name: "mistral-nemo:12b", bytes: size(8), tokensPerSecond: 30, promptTokensPerSecond: 1_000, isDefault: true)],
            workflows: [sdxl])
        var arrivals: [Trace.Arrival] = []
        var time = 0.0
        for _ in 0..<20 {
            arrivals.append(.ollama(at: time, model: "mistral-nemo:12b", promptTokens: 1_500, outputTokens: 250, requestClass: .batch,
                                    client: "pipeline"))
            time += 15
            arrivals.append(.comfy(at: time, workflow: sdxl.name, steps: 30, client: "pipeline"))
            time += 15
        }
        return TraceFile(header: header, arrivals: arrivals)
    }
}
