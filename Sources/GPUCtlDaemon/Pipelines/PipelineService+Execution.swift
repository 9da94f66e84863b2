import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC
import GPUCtlStore

extension PipelineService {
    /// Runs (or resumes) one pipeline run to its end.
    func execute(_ jobID: String, definition: PipelineDefinition, inputs: [String: JSONValue]) async {
        var progress = PipelineProgress(definition: definition, inputs: inputs)
        let store = supervisor.store
        // What the store says ended stays ended; a step cut off mid-way runs again (a ComfyUI
        // step finds its job by the id it wrote before queueing it).
        var interrupted: [PipelineProgress.Unit: String] = [:]
        for record in (try? store.pipelineSteps(jobID: jobID)) ?? [] {
            let unit = PipelineProgress.Unit(step: record.step, item: record.item)
            switch record.state {
            case .succeeded:
                let output = record.output.flatMap { try? JSONParser.parse(Data($0.utf8)) } ?? .null
                progress.restore(unit, outcome: .succeeded(output), attempts: record.attempts)
            case .failed: progress.restore(unit, outcome: .failed(record.error ?? "failed"), attempts: record.attempts)
            case .skipped: progress.restore(unit, outcome: .skipped(record.error ?? "skipped"), attempts: record.attempts)
            case .running:
                progress.restore(unit, outcome: nil, attempts: max(0, record.attempts - 1))
                if let child = record.childJob { interrupted[unit] = child }
            }
        }
        guard await supervisor.record(jobID, .running) != nil || (try? store.job(id: jobID))?.state == .running else { return }
        var current: Backend?
        while true {
            if Task.isCancelled { return }
            switch progress.next(current: current) {
            case .finished(let result):
                _ = await supervisor.record(jobID, .succeeded, result: result.jsonText)
                return
            case .failed(let message):
                _ = await supervisor.record(jobID, .failed, error: message)
                return
            case .record(let unit, let outcome):
                record(jobID, unit, outcome, kind: definition.step(unit.step)?.kind)
                progress.mark(unit, outcome)
            case .run(let unit, let fields):
                guard let step = definition.step(unit.step) else { return }
                // A ComfyUI step's job id is written before the job is queued: a restart finds it.
                let child = step.kind == .comfy ? interrupted.removeValue(forKey: unit) ?? UUID().uuidString.lowercased() : nil
                let started = Date()
                let attempts = (try? store.startPipelineStep(jobID: jobID, step: unit.step, item: unit.item, childJob: child, at: started)) ?? 1
                progress.started(unit)
                publish(jobID, PipelineStepInfo(step: unit.step, item: unit.item < 0 ? nil : unit.item, state: "running", kind: step.kind.rawValue,
                                                job: child, attempts: attempts, startedAt: started.formatted(.iso8601), optional: step.optional))
                let outcome = await perform(step, unit: unit, fields: fields, child: child, jobID: jobID)
                if Task.isCancelled { return stop(jobID, unit: unit) }
                record(jobID, unit, outcome, kind: step.kind, child: child, attempts: attempts, started: started)
                progress.ended(unit, outcome)
                current = step.kind.backend
            }
        }
    }

    /// Cancelled: at shutdown the step is left running (it runs again at the next start); by a
    /// user, it is recorded as stopped (`cancel` then ends its ComfyUI job and the run, outside
    /// this cancelled task, whose awaited writes would be refused).
    private func stop(_ jobID: String, unit: PipelineProgress.Unit) {
        guard !shuttingDown else { return }
        try? supervisor.store.finishPipelineStep(jobID: jobID, step: unit.step, item: unit.item, state: .failed, output: nil,
                                                 error: "cancelled")
    }

    /// Writes a unit's end, then tells those who follow the run.
    private func record(_ jobID: String, _ unit: PipelineProgress.Unit, _ outcome: PipelineProgress.Outcome, kind: PipelineDefinition.StepKind?,
                        child: String? = nil, attempts: Int = 0, started: Date? = nil) {
        let (state, output, error): (PipelineStepRecord.State, JSONValue?, String?) = switch outcome {
        case .succeeded(let value): (.succeeded, value, nil)
        case .failed(let message): (.failed, nil, message)
        case .skipped(let reason): (.skipped, nil, reason)
        }
        let ended = Date()
        do {
            try supervisor.store.finishPipelineStep(jobID: jobID, step: unit.step, item: unit.item, state: state,
                                                    output: output?.jsonText, error: error, at: ended)
        } catch {
            logger.error("pipeline run \(jobID): \(error.message)")
        }
        publish(jobID, PipelineStepInfo(
            step: unit.step, item: unit.item < 0 ? nil : unit.item, state: state.rawValue, kind: kind?.rawValue ?? "", job: child,
            attempts: attempts, startedAt: started?.formatted(.iso8601), endedAt: ended.formatted(.iso8601),
            elapsedMs: started.map { ended.timeIntervalSince($0) * 1000 }, output: output, error: error))
    }

    private func publish(_ jobID: String, _ step: PipelineStepInfo) {
        supervisor.events.publish(DaemonEvent(.jobProgress, job: jobID, step: step))
    }

    /// Runs one unit and says how it ended. A backend that cannot be reached is waited for
    /// (retried with growing pauses) up to `backendWait`, then the step fails naming it.
    private func perform(_ step: PipelineDefinition.Step, unit: PipelineProgress.Unit, fields: [String: JSONValue],
                         child: String?, jobID: String) async -> PipelineProgress.Outcome {
        let started = ContinuousClock.now
        let deadline = started + backendWait
        var pause = Duration.milliseconds(200)
        while true {
            do {
                return .succeeded(try await call(step, fields: fields, child: child, file: "\(jobID)/\(unit.step)\(unit.item < 0 ? "" : "-\(unit.item)")"))
            } catch {
                let payload = RPCErrorPayload(error)
                // No TTS server configured will not change by waiting.
                guard payload.kind == .backendUnavailable, !(error is SpeechUnavailable), !Task.isCancelled else { return .failed(payload.message) }
                guard ContinuousClock.now + pause < deadline else {
                    let waited = (ContinuousClock.now - started).components.seconds
                    return .failed("\(payload.message) (waited \(waited) s for it; --backend-wait sets how long)")
                }
                logger.notice("pipeline run \(jobID): \(unit) waits for its backend: \(payload.message)")
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(10))
            }
        }
    }

    /// The step's own work: an Ollama call, or a ComfyUI job queued and followed to its end.
    /// `file`: where in the output folder a step that makes a file of its own writes it.
    private func call(_ step: PipelineDefinition.Step, fields: [String: JSONValue], child: String?, file: String) async throws -> JSONValue {
        var request = fields
        request["class"] = .string("batch")
        switch step.kind {
        case .generate, .chat:
            request["stream"] = .bool(false)
            let call: InferenceCall = step.kind == .generate
                ? .generate(try GenerateParams(method: "generate", params: .object(request)))
                : .chat(try ChatParams(method: "chat", params: .object(request)))
            let reply = try await models.infer(call, streamTo: .detached(eventLoop: eventLoop), id: nil)
            guard step.repliesInJSON else { return ["text": .string(reply.response)] }
            guard let json = try? JSONParser.parse(Data(reply.response.utf8)) else {
                throw PipelineStepError.notJSON(reply.response)
            }
            return ["text": .string(reply.response), "json": json]
        case .embed:
            let collection = request.removeValue(forKey: "collection")?.stringValue
            if let collection {
                var params = try CollectionsAddParams(method: "collections.add", params: .object(request))
                params.collection = collection
                let added = try await collections.add(params)
                return ["ids": .array(added.ids.map { .number(Double($0)) }), "vectors": .array([])]
            }
            let reply = try await models.embed(try EmbedParams(method: "embed", params: .object(request)))
            return ["vectors": .array(reply.embeddings.map { .array($0.map(JSONValue.number)) })]
        case .comfy:
            guard let child else { throw PipelineStepError.noChild }
            if (try? supervisor.store.job(id: child)) == nil {
                var params = SubmitParams(.workflow(fields["workflow"]?.stringValue ?? "", values: fields["params"]?.objectValue ?? [:]))
                params.requestClass = .batch
                _ = try await jobs.submit(params, id: child)
            }
            let (_, changes) = try await supervisor.watch(child)
            if let changes { for await _ in JobChanges(changes) { try Task.checkCancellation() } }
            try Task.checkCancellation()
            let ended = try await supervisor.job(child)
            guard ended.state == JobState.succeeded.rawValue else {
                throw PipelineStepError.jobEnded(child, ended.state, ended.error)
            }
            let files = (ended.outputs ?? []).map { JSONValue.string($0.path) }
            let bytes = ended.outputs?.first.map { JSONValue.number(Double($0.bytes)) } ?? .null
            return ["files": .array(files), "file": files.first ?? .null, "bytes": bytes, "job": .string(child)]
        case .speak:
            var params = SpeakParams(input: fields["input"].map { $0.stringValue ?? $0.jsonText } ?? "", model: fields["model"]?.stringValue,
                                     voice: fields["voice"]?.stringValue)
            if case .number(let speed)? = fields["speed"] { params.speed = speed }
            params.requestClass = .batch
            let (result, audio) = try await speech.speak(params)
            let path = "\(supervisor.configuration.outputDirectory)/\(file).wav"
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try audio.write(to: URL(fileURLWithPath: path), options: .atomic)
            return ["file": .string(path), "bytes": .number(Double(result.bytes)), "seconds": result.seconds.map(JSONValue.number) ?? .null]
        }
    }
}

/// Why a step failed that is not any backend's error.
enum PipelineStepError: Error, Sendable {
    /// The LLM was asked for JSON and answered with this instead.
    case notJSON(String)
    case noChild
    /// Its ComfyUI job ended other than succeeded.
    case jobEnded(String, String, String?)

    var message: String {
        switch self {
        case .notJSON(let reply):
            let shown = reply.count > 200 ? String(reply.prefix(200)) + "…" : reply
            return "the reply is not the JSON the step asked for: \(shown.debugDescription)"
        case .noChild: return "a comfy step without a job id (a bug)"
        case .jobEnded(let id, let state, let error): return "its ComfyUI job \(id) \(state)\(error.map { ": \($0)" } ?? "")"
        }
    }
}
