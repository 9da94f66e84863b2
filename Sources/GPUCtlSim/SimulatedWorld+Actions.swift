import GPUCtlCore
import GPUCtlModels

/// How the simulated card answers arrivals and a policy's actions.
extension SimulatedWorld {
    static let comfyHolder = "comfyui"

    mutating func happen(_ happening: Happening) {
        switch happening {
        case .arrival(let index):
            arrive(index)
        case .loadDone(let model, let ok):
            if ok {
                ready.insert(model)
                feed(.loaded(model: model, bytes: ollama[model] ?? 0))
            } else {
                feed(.loadFailed(model: model, reason: "out of memory: the model did not fit beside what the card held"))
            }
        case .unloadDone(let model):
            ollama[model] = nil
            ready.remove(model)
            hold(model, 0)
            feed(.unloaded(model: model))
        case .freeDone:
            if comfyJob == nil {
                comfyCache = nil
                hold(Self.comfyHolder, 0)
                policy.comfyObserved(0, running: nil)
                feed(.freed(.comfyui))
            } else {
                feed(.freeFailed(.comfyui, stillHeld: usedByComfy))
            }
        case .generationDone(let model, let id):
            requests[id] = nil
            served += 1
            makespan = max(makespan, now)
            feed(.finished(id))
            if let keepAlive = policy.keepAliveSeconds(for: model), busyUntil[model].map({ $0 <= now }) ?? true {
                agenda.add(.expire(model: model, use: uses[model, default: 0]), at: now + keepAlive)
            }
        case .expire(let model, let use):
            // Ollama unloads an idle model whose keep_alive ran out; the policy sees it gone
            // at its next /api/ps.
            guard use == uses[model, default: 0], ready.contains(model), busyUntil[model].map({ $0 <= now }) ?? true else { return }
            ollama[model] = nil
            ready.remove(model)
            hold(model, 0)
            feed(.observed(ollama))
        case .jobDone(let id, let outOfMemory):
            endJob(id, outOfMemory: outOfMemory)
        case .tick:
            ticksAt.remove(now)
            feed(.tick)
        }
    }

    var usedByComfy: UInt64 { (comfyCache?.bytes ?? 0) + activation }

    mutating func arrive(_ index: Int) {
        let arrival = trace.arrivals[index]
        arrived = index + 1
        let id = nextID
        nextID += 1
        var request = SimRequest(arrival: index, arrivedAt: now, requestClass: arrival.requestClass)
        if let model = arrival.model {
            requests[id] = request
            feed(.requested(id, model: model, requestClass: arrival.requestClass))
        } else if let name = arrival.workflow, let workflow = workflows[name] {
            request.charged = policy.charge(for: workflow)
            requests[id] = request
            feed(.jobRequested(id, bytes: request.charged, requestClass: arrival.requestClass))
        }
    }

    mutating func act(_ action: Scheduler.Action) {
        switch action {
        case .load(let model):
            load(model)
        case .unload(let model):
            if busyUntil[model].map({ $0 > now }) ?? false { contradict("\(model) was unloaded while a request ran on it") }
            agenda.add(.unloadDone(model: model), at: now + card.unloadSeconds)
        case .free:
            agenda.add(.freeDone, at: now + card.freeSeconds)
        case .run(let id, let model):
            generate(id, on: model)
        case .runJob(let id, _):
            startJob(id)
        case .fail(let id, _):
            if requests.removeValue(forKey: id) != nil { failed += 1 }
        case .wake(let at):
            // Not a hair before `at` (seconds and instants round differently): a tick that
            // comes too early is asked for again at the same time, for ever.
            var time = max(now, Self.seconds(at - origin))
            while instant(time) < at { time += 1e-6 }
            if ticksAt.insert(time).inserted { agenda.add(.tick, at: time) }
        }
    }

    mutating func load(_ model: String) {
        guard ollama[model] == nil, let spec = models[model] else {
            // Already there (or being loaded): Ollama answers at once.
            if ollama[model] != nil { agenda.add(.loadDone(model: model, ok: true), at: now) }
            return
        }
        let bytes = spec.bytes.bytes
        guard usedBytes + bytes <= card.cardBytes else {
            outOfMemory += 1
            outOfMemoryAt.append(now)
            agenda.add(.loadDone(model: model, ok: false), at: now + card.loadOverhead)
            return
        }
        let seconds = card.loadSeconds(bytes)
        ollama[model] = bytes
        loads += 1
        bytesLoaded += bytes
        loadSeconds += seconds
        hold(model, bytes)
        agenda.add(.loadDone(model: model, ok: true), at: now + seconds)
    }

    /// Ollama serves one request at a time per model: a request told to run starts when the
    /// model is free, and its wait ends then.
    mutating func generate(_ id: Scheduler.RequestID, on model: String) {
        guard let request = requests[id] else { return }
        guard ready.contains(model), let spec = models[model] else {
            contradict("request \(id) was run on \(model), which is not loaded")
            requests[id] = nil
            failed += 1
            feed(.finished(id))
            return
        }
        let arrival = trace.arrivals[request.arrival]
        let start = max(now, busyUntil[model] ?? 0)
        let duration = arrival.serviceSeconds
            ?? Double(arrival.promptTokens ?? 0) / spec.promptTokensPerSecond + Double(arrival.outputTokens ?? 0) / spec.tokensPerSecond
        busyUntil[model] = start + duration
        uses[model, default: 0] += 1
        waits[request.requestClass, default: []].append(start - request.arrivedAt)
        agenda.add(.generationDone(model: model, id: id), at: start + duration)
    }

    /// ComfyUI runs a job: it loads the workflow's checkpoints unless its cache holds them
    /// (dropping whatever else it cached), then samples, which takes activations on top. What
    /// does not fit beside the rest of the card is PyTorch's out-of-memory error.
    mutating func startJob(_ id: Scheduler.RequestID) {
        guard var request = requests[id], let name = trace.arrivals[request.arrival].workflow, let workflow = workflows[name] else {
            contradict("job \(id) was run, but no such job waits")
            return
        }
        // ComfyUI queues what it is sent while it runs a prompt.
        guard comfyJob == nil else {
            comfyQueue.append(id)
            return
        }
        request.startedAt = now
        requests[id] = request
        comfyJob = (id, name)
        policy.jobStarted(workflow: name)
        var seconds = 0.0
        let checkpointBytes = workflow.checkpointBytes.bytes
        if comfyCache?.checkpoints != workflow.checkpoints {
            comfyCache = nil
            seconds = card.loadSeconds(checkpointBytes)
            loads += 1
            bytesLoaded += checkpointBytes
            loadSeconds += seconds
        }
        let others = usedBytes - (comfyCache?.bytes ?? 0)
        let steps = Double(trace.arrivals[request.arrival].steps ?? 0)
        var failure: String?
        if others + checkpointBytes > card.cardBytes {
            failure = Self.torchMessage(allocating: checkpointBytes, free: card.cardBytes - min(card.cardBytes, others))
        } else if others + checkpointBytes + workflow.activationBytes.bytes > card.cardBytes {
            failure = Self.torchMessage(allocating: workflow.activationBytes.bytes, free: card.cardBytes - others - checkpointBytes)
        }
        if failure == nil || others + checkpointBytes <= card.cardBytes {
            comfyCache = (workflow.checkpoints, checkpointBytes)
        }
        if failure == nil {
            activation = workflow.activationBytes.bytes
            seconds += trace.arrivals[request.arrival].serviceSeconds ?? steps * workflow.secondsPerStep
        } else {
            outOfMemory += 1
            outOfMemoryAt.append(now)
            seconds += min(1, steps * workflow.secondsPerStep)
        }
        hold(Self.comfyHolder, usedByComfy)
        // /system_stats sampled during the job sees its peak.
        policy.comfyObserved(usedByComfy, running: name)
        feed(.backendObserved(.comfyui, bytes: usedByComfy))
        agenda.add(.jobDone(id: id, outOfMemory: failure), at: now + seconds)
    }

    mutating func contradict(_ what: String) {
        contradictions += 1
        if contradictionNotes.count < 5 { contradictionNotes.append("\(now) s: \(what)") }
    }

    static func torchMessage(allocating bytes: UInt64, free: UInt64) -> String {
        let gib = { (value: UInt64) in String(format: "%.2f GiB", Double(value) / 1_073_741_824) }
        return "CUDA out of memory. Tried to allocate \(gib(bytes)). GPU 0 has \(gib(free)) free."
    }

    mutating func endJob(_ id: Scheduler.RequestID, outOfMemory message: String?) {
        guard let request = requests.removeValue(forKey: id) else { return }
        activation = 0
        comfyJob = nil
        policy.jobEnded()
        hold(Self.comfyHolder, usedByComfy)
        makespan = max(makespan, now)
        let arrival = trace.arrivals[request.arrival]
        var retry: UInt64?
        if let message {
            if !request.retried, let name = arrival.workflow, let workflow = workflows[name] {
                retry = policy.retryCharge(afterOutOfMemoryOf: workflow, charged: request.charged, message: message)
            }
            if retry == nil { failed += 1 }
        } else {
            served += 1
            waits[request.requestClass, default: []].append((request.startedAt ?? now) - request.arrivedAt)
        }
        feed(.finished(id))
        policy.comfyObserved(usedByComfy, running: nil)
        feed(.backendObserved(.comfyui, bytes: usedByComfy))
        if !comfyQueue.isEmpty { startJob(comfyQueue.removeFirst()) }
        if let retry {
            // The retry goes first, charged what the failure showed it needs.
            let retryID = nextID
            nextID += 1
            requests[retryID] = SimRequest(arrival: request.arrival, arrivedAt: request.arrivedAt, requestClass: request.requestClass,
                                           charged: retry, retried: true)
            feed(.jobRequested(retryID, bytes: retry, requestClass: request.requestClass, resumed: true))
        }
    }
}
