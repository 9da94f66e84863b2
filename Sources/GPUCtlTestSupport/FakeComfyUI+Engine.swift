import Foundation
import GPUCtlModels

extension FakeComfyUI {
    /// Timings and faults of the fake's prompt worker.
    public struct Knobs: Sendable {
        /// Between two sampler steps.
        public var stepDelay: Duration = .milliseconds(2)
        /// Bytes a checkpoint holds on the card once loaded (until /free); default 2 GiB.
        public var checkpointBytes: [String: UInt64] = [:]
        public var defaultCheckpointBytes: UInt64 = 2 << 30
        /// The next N prompts fail at their first sampler (or last node) with this exception.
        public var failNextExecutions: (count: Int, type: String, message: String) = (0, "RuntimeError", "fake failure")
        /// While true, a sampler waits before its first step (a test releases it when ready).
        public var holdSamplers = false
        /// When above 0, every sampler step also sends a preview frame of this many bytes
        /// (PREVIEW_IMAGE, JPEG) to the prompt's client, as `--preview-method auto` does.
        public var previewBytes = 0
        /// The next prompt's execution_start goes to no one (as when /ws connected just after it).
        public var loseNextExecutionStart = false
        /// While true, /free answers 200 and frees nothing (a ComfyUI whose models another
        /// node pinned, or an older build that ignores the request).
        public var ignoreFree = false
        /// What a sampler takes on the card on top of the checkpoint while it runs (its
        /// activations); PyTorch's out-of-memory error when the card has not that much free.
        public var samplerBytes: UInt64 = 0
    }

    /// ComfyUI's queue, worker, history and output files, one prompt at a time (§2–§6).
    /// What the fake writes to one WebSocket.
    enum Frame: Sendable {
        case text(String)
        case binary([UInt8])
    }

    actor Engine {
        struct Job: Sendable {
            var number: Double
            var promptID: String
            var graph: [String: JSONValue]
            var clientID: String?
            var extraData: [String: JSONValue] = [:]
        }

        let gpu: VirtualGPU
        let knobs: LockedBox<Knobs>
        private var counter = 0
        private var pending: [Job] = []
        private var running: Job?
        private var interruptRequested = false
        private var freeRequested = false
        private var lastGraph: [String: JSONValue]?
        private var lastOutputs: [String: JSONValue] = [:]
        private(set) var history: [String: JSONValue] = [:]
        /// Prompt ids in the order they finished.
        private(set) var finished: [String] = []
        /// How many prompts had finished at each restart, taken in the same step as the restart.
        private(set) var restartMarks: [Int] = []
        /// How many times each checkpoint was loaded onto the card.
        private(set) var checkpointLoads: [String: Int] = [:]
        private var files: [String: [UInt8]] = [:]
        private var fileCounters: [String: Int] = [:]
        private var sockets: [String: @Sendable (Frame) async -> Void] = [:]
        private var closers: [String: @Sendable () async -> Void] = [:]
        private var working = false
        /// Bumped by a restart: the prompt that was running then leaves no trace.
        private(set) var generation = 0
        private(set) var inputFiles: Set<String> = ["example.png"]

        init(gpu: VirtualGPU, knobs: LockedBox<Knobs>) {
            self.gpu = gpu
            self.knobs = knobs
        }

        /// A new socket replaces an older one with the same id, as in ComfyUI's registry.
        func connect(_ clientID: String, send: @escaping @Sendable (Frame) async -> Void,
                     close: @escaping @Sendable () async -> Void) {
            sockets[clientID] = send
            closers[clientID] = close
        }

        func disconnect(_ clientID: String) {
            sockets[clientID] = nil
            closers[clientID] = nil
        }

        /// Closes every WebSocket from the server's side.
        func dropSockets() async {
            let all = closers.values
            for close in all { await close() }
        }

        var queueRemaining: Int { pending.count + (running == nil ? 0 : 1) }

        /// Queues a validated graph and wakes the worker. ComfyUI's counter numbers every submission.
        /// nil when the server restarted since the request came in (`generation`): a request a
        /// restarted ComfyUI was handling dies with the process, it is not queued afterwards.
        func submit(_ graph: [String: JSONValue], clientID: String?, promptID: String,
                    extraData: [String: JSONValue] = [:], receivedIn generation: Int? = nil) -> Int? {
            if let generation, generation != self.generation { return nil }
            let number = counter
            counter += 1
            var extra = extraData
            if let clientID { extra["client_id"] = .string(clientID) }
            pending.append(Job(number: Double(number), promptID: promptID, graph: graph, clientID: clientID, extraData: extra))
            Task { await self.broadcastStatus() }
            if !working {
                working = true
                Task { await self.work() }
            }
            return number
        }

        func queueJSON() -> JSONValue {
            func row(_ job: Job) -> JSONValue {
                [.number(job.number), .string(job.promptID), .object(job.graph), .object(job.extraData), []]
            }
            return ["queue_running": .array(running.map { [row($0)] } ?? []), "queue_pending": .array(pending.map(row))]
        }

        func delete(_ ids: [String]) { pending.removeAll { ids.contains($0.promptID) } }
        func clear() { pending.removeAll() }

        func interrupt(_ promptID: String?) {
            guard let running, promptID == nil || promptID == running.promptID else { return }
            interruptRequested = true
        }

        /// Applied after the running prompt, as ComfyUI's worker does.
        func free() {
            guard !knobs.value.ignoreFree else { return }
            freeRequested = true
            if !working { applyFree() }
        }

        func file(_ type: String, _ subfolder: String, _ name: String) -> [UInt8]? { files["\(type)/\(subfolder)/\(name)"] }

        func addFile(_ type: String, _ subfolder: String, _ name: String, bytes: [UInt8]) { files["\(type)/\(subfolder)/\(name)"] = bytes }

        /// An uploaded input file; returns the name it got.
        func storeInput(_ name: String, bytes: [UInt8], overwrite: Bool) -> String {
            var chosen = name
            if !overwrite, let existing = files["input//\(name)"], existing != bytes {
                let dot = name.lastIndex(of: ".") ?? name.endIndex
                var counter = 1
                repeat {
                    chosen = "\(name[..<dot]) (\(counter))\(name[dot...])"
                    counter += 1
                } while files["input//\(chosen)"] != nil && files["input//\(chosen)"] != bytes
            }
            files["input//\(chosen)"] = bytes
            inputFiles.insert(chosen)
            return chosen
        }

        /// A restart: the queue, the history and the loaded models are gone.
        func forget() async {
            generation += 1
            restartMarks.append(finished.count)
            if running != nil { interruptRequested = true }
            pending.removeAll()
            history.removeAll()
            lastGraph = nil
            for owner in await gpu.holders.keys where owner.hasPrefix("comfyui:") { await gpu.release(owner) }
        }

        private func applyFree() {
            freeRequested = false
            lastGraph = nil
            Task { for owner in await gpu.holders.keys where owner.hasPrefix("comfyui:") { await gpu.release(owner) } }
        }

        private func work() async {
            while !pending.isEmpty {
                let job = pending.removeFirst()
                running = job
                interruptRequested = false
                await run(job)
                running = nil
                if freeRequested { applyFree() }
            }
            working = false
        }

        private func send(_ job: Job, _ type: String, _ data: [String: JSONValue]) async {
            guard let clientID = job.clientID, let socket = sockets[clientID] else { return }
            await socket(.text(FakeComfyUI.frame(type: type, json: .object(data))))
        }

        /// A binary frame: the 4-byte event type, then its payload.
        private func sendBinary(_ job: Job, type: UInt32, _ payload: [UInt8]) async {
            guard let clientID = job.clientID, let socket = sockets[clientID] else { return }
            await socket(.binary(withUnsafeBytes(of: type.bigEndian, Array.init) + payload))
        }

        private func broadcastStatus() async {
            let frame = FakeComfyUI.frame(type: "status", json: ["status": ["exec_info": ["queue_remaining": .number(Double(queueRemaining))]]])
            for socket in sockets.values { await socket(.text(frame)) }
        }

        private func run(_ job: Job) async {
            let generation = self.generation
            let id = JSONValue.string(job.promptID)
            var messages: [JSONValue] = []
            await broadcastStatus()
            // Lost like a message sent before the client's /ws was connected.
            let startUnheard = knobs.mutate { knobs in
                defer { knobs.loseNextExecutionStart = false }
                return knobs.loseNextExecutionStart
            }
            if !startUnheard { await send(job, "execution_start", ["prompt_id": id, "timestamp": 1]) }
            messages.append(["execution_start", ["prompt_id": id]])
            let order = FakeComfyUI.executionOrder(job.graph)
            // An identical re-run is served from the cache: no node runs, no new file is written.
            let cached = lastGraph == job.graph
            await send(job, "execution_cached", ["nodes": .array(cached ? order.map(JSONValue.string) : []), "prompt_id": id])
            messages.append(["execution_cached", ["prompt_id": id]])
            var outputs: [String: JSONValue] = cached ? lastOutputs : [:]
            var outcome: (type: String, data: [String: JSONValue])?
            if cached {
                for (node, output) in outputs.sorted(by: { $0.key < $1.key }) {
                    await send(job, "executed", ["node": .string(node), "display_node": .string(node), "output": output, "prompt_id": id])
                }
            } else {
                outcome = await execute(job, order: order, outputs: &outputs)
            }
            guard generation == self.generation else { return }
            let (type, data) = outcome ?? ("execution_success", ["prompt_id": id, "timestamp": 2])
            await send(job, type, data)
            // A restart while the last message went out: the process died before it kept anything.
            guard generation == self.generation else { return }
            messages.append([.string(type), .object(data)])
            let success = outcome == nil
            finished.append(job.promptID)
            history[job.promptID] = [
                "prompt": [.number(job.number), id, .object(job.graph), .object(job.extraData), []],
                "outputs": .object(outputs),
                "status": ["status_str": success ? "success" : "error", "completed": .bool(success), "messages": .array(messages)],
                "meta": [:],
            ]
            if success {
                lastGraph = job.graph
                lastOutputs = outputs
            }
            running = nil
            await broadcastStatus()
            await send(job, "executing", ["node": .null, "prompt_id": id])
        }

        /// Runs the nodes; returns the failing or interrupting message, nil on success.
        private func execute(_ job: Job, order: [String], outputs: inout [String: JSONValue]) async -> (String, [String: JSONValue])? {
            let id = JSONValue.string(job.promptID)
            var executed: [JSONValue] = []
            let failing = knobs.mutate { knobs -> (String, String)? in
                guard knobs.failNextExecutions.count > 0 else { return nil }
                knobs.failNextExecutions.count -= 1
                return (knobs.failNextExecutions.type, knobs.failNextExecutions.message)
            }
            let failAt = order.first { FakeComfyUI.nodeClasses[job.graph[$0]?["class_type"]?.stringValue ?? ""]?.behaviourName == "sampler" }
                ?? order.last
            for node in order {
                let type = job.graph[node]?["class_type"]?.stringValue ?? ""
                let inputs = job.graph[node]?["inputs"]
                if interruptRequested {
                    return ("execution_interrupted", ["prompt_id": id, "node_id": .string(node), "node_type": .string(type),
                                                      "executed": .array(executed), "timestamp": 2])
                }
                await send(job, "executing", ["node": .string(node), "display_node": .string(node), "prompt_id": id])
                func error(_ exception: String, _ message: String) -> (String, [String: JSONValue]) {
                    ("execution_error", ["prompt_id": id, "node_id": .string(node), "node_type": .string(type),
                                         "executed": .array(executed), "exception_message": .string(message),
                                         "exception_type": .string(exception), "traceback": [], "current_inputs": [:],
                                         "current_outputs": [], "timestamp": 2])
                }
                if let failing, node == failAt { return error(failing.0, failing.1) }
                switch FakeComfyUI.nodeClasses[type]?.behaviour {
                case .checkpoint?:
                    let name = inputs?["ckpt_name"]?.stringValue ?? "model.safetensors"
                    let bytes = knobs.value.checkpointBytes[name] ?? knobs.value.defaultCheckpointBytes
                    let owner = "comfyui:\(name)"
                    if await gpu.holders[owner] == nil {
                        guard await gpu.allocate(owner, bytes: bytes) else {
                            return error("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate \(bytes >> 20) MiB")
                        }
                        checkpointLoads[name, default: 0] += 1
                    }
                case .sampler?:
                    let steps: Int = if case .number(let value)? = inputs?["steps"] { Int(value) } else { 20 }
                    // Sampling takes activations on top of the checkpoint, given back after it.
                    let activations = knobs.value.samplerBytes
                    if activations > 0, !(await gpu.allocate("comfyui:activations", bytes: activations)) {
                        let gib = String(format: "%.2f GiB", Double(activations) / 1_073_741_824)
                        return error("torch.OutOfMemoryError", "CUDA out of memory. Tried to allocate \(gib). GPU 0 has \(await gpu.freeBytes >> 20) MiB free.")
                    }
                    while knobs.value.holdSamplers, !interruptRequested { try? await Task.sleep(for: .milliseconds(5)) }
                    for step in 1...max(1, steps) {
                        try? await Task.sleep(for: knobs.value.stepDelay)
                        if interruptRequested {
                            if activations > 0 { await gpu.release("comfyui:activations") }
                            return ("execution_interrupted", ["prompt_id": id, "node_id": .string(node), "node_type": .string(type),
                                                              "executed": .array(executed), "timestamp": 2])
                        }
                        await send(job, "progress", ["value": .number(Double(step)), "max": .number(Double(steps)),
                                                     "prompt_id": id, "node": .string(node)])
                        let preview = knobs.value.previewBytes
                        if preview > 0 { await sendBinary(job, type: 1, [0, 0, 0, 1] + [UInt8](repeating: 0xD8, count: preview)) }
                    }
                    if activations > 0 { await gpu.release("comfyui:activations") }
                case .save(let fileType)?:
                    let prefix = fileType == "temp" ? "ComfyUI_temp" : (inputs?["filename_prefix"]?.stringValue ?? "ComfyUI")
                    let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
                    let subfolder = parts.dropLast().joined(separator: "/")
                    let base = String(parts.last ?? "ComfyUI")
                    let index = (fileCounters[prefix] ?? 0) + 1
                    fileCounters[prefix] = index
                    let name = "\(base)_\(String(format: "%05d", index))_.png"
                    files["\(fileType)/\(subfolder)/\(name)"] = FakeComfyUI.png
                    let output: JSONValue = ["images": [["filename": .string(name), "subfolder": .string(subfolder), "type": .string(fileType)]]]
                    outputs[node] = output
                    await send(job, "executed", ["node": .string(node), "display_node": .string(node), "output": output, "prompt_id": id])
                case .saveMedia(let key, let ext)?:
                    let prefix = inputs?["filename_prefix"]?.stringValue ?? "ComfyUI"
                    let parts = prefix.split(separator: "/", omittingEmptySubsequences: false)
                    let subfolder = parts.dropLast().joined(separator: "/")
                    let index = (fileCounters[prefix] ?? 0) + 1
                    fileCounters[prefix] = index
                    let name = "\(parts.last ?? "ComfyUI")_\(String(format: "%05d", index))_.\(ext)"
                    files["output/\(subfolder)/\(name)"] = FakeComfyUI.media(ext)
                    let entry: JSONValue = ["filename": .string(name), "subfolder": .string(subfolder), "type": "output"]
                    // SaveAnimatedWEBP says its images are animated, as ComfyUI does.
                    let output: JSONValue = ext == "webp" ? [key: [entry], "animated": [true]] : [key: [entry]]
                    outputs[node] = output
                    await send(job, "executed", ["node": .string(node), "display_node": .string(node), "output": output, "prompt_id": id])
                case .plain?, nil:
                    break
                }
                executed.append(.string(node))
            }
            return nil
        }
    }
}

extension FakeComfyUI.NodeClass {
    var behaviourName: String {
        switch behaviour {
        case .plain: "plain"
        case .checkpoint: "checkpoint"
        case .sampler: "sampler"
        case .save, .saveMedia: "save"
        }
    }
}

extension JSONSerialization {
    /// A JSONValue as Foundation objects, for the fakes' `Response.json`.
    static func object(_ value: JSONValue) -> Any {
        switch value {
        case .null: NSNull()
        case .bool(let flag): flag
        case .number(let number): number == number.rounded() && abs(number) < 9e15 ? Int64(number) as Any : number
        case .string(let text): text
        case .array(let items): items.map(object)
        case .object(let members): members.mapValues(object)
        }
    }
}
