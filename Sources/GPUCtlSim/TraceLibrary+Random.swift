import GPUCtlCore
import GPUCtlModels

extension TraceLibrary {
    /// A random trace from `seed`: 2 to 5 models of 1 to 10 GiB, 1 to 3 workflows, and
    /// `arrivals` arrivals about `meanGap` seconds apart, a third of them ComfyUI jobs, in
    /// bursts that favour one model for a while (as real work does).
    public static func random(seed: UInt64, arrivals count: Int, meanGap: Double = 6, card: ByteSize = .gibibytes(24)) -> TraceFile {
        var random = SeededRandom(seed: seed)
        let models = (0..<(2 + random.below(4))).map { index in
            Trace.Model(name: "model-\(index)", bytes: size(1 + Double(random.below(90)) / 10),
                        tokensPerSecond: Double(20 + random.below(80)), promptTokensPerSecond: Double(500 + random.below(3_000)),
                        isDefault: index == 0)
        }
        let workflows = (0..<(1 + random.below(3))).map { index in
            Trace.Workflow(name: "workflow-\(index)", checkpoints: ["checkpoint-\(index).safetensors"],
                           checkpointBytes: size(2 + Double(random.below(80)) / 10),
                           activationBytes: size(0.5 + Double(random.below(25)) / 10), secondsPerStep: 0.1 + Double(random.below(5)) / 10)
        }
        var arrivals: [Trace.Arrival] = []
        arrivals.reserveCapacity(count)
        var time = 0.0
        var favourite = 0
        while arrivals.count < count {
            time += random.exponential(mean: meanGap)
            if random.below(20) == 0 { favourite = random.below(models.count) }
            let requestClass: JobClass = random.below(3) == 0 ? .batch : .interactive
            if random.below(3) == 0 {
                let workflow = workflows[random.below(workflows.count)]
                arrivals.append(.comfy(at: time, workflow: workflow.name, steps: 10 + random.below(30), requestClass: requestClass))
            } else {
                let model = random.below(3) == 0 ? models[random.below(models.count)] : models[favourite]
                arrivals.append(.ollama(at: time, model: model.name, promptTokens: 100 + random.below(4_000),
                                        outputTokens: random.below(500), requestClass: requestClass))
            }
        }
        let header = Trace.Header(trace: "random-\(seed)", description: "random trace, seed \(seed), \(count) arrivals", card: card,
                                  models: models, workflows: workflows)
        return TraceFile(header: header, arrivals: arrivals)
    }
}
