import Foundation
import GPUCtlModels

extension FakeOllama {
    /// An error the fake answers with: a status and Ollama's exact message.
    struct Failure: Error {
        var status: Int
        var message: String
    }

    /// Runner options: a request whose values differ from the loaded runner's makes Ollama reload.
    static let runnerOptionKeys = ["num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread"]

    /// The residency state machine of one fake Ollama: absent → loading → loaded → unloading → absent.
    actor Engine {
        enum Phase { case loading, loaded, unloading }

        struct Resident {
            var model: Model
            var phase: Phase
            var sizeVRAM: UInt64
            /// Seconds; `.infinity` is forever.
            var keepAlive: Double
            var expiresAt: Date
            var inFlight = 0
            var runnerOptions: [String: JSONValue]
        }

        let gpu: VirtualGPU
        let knobs: LockedBox<Knobs>
        private(set) var models: [String: Model] = [:]
        private var residents: [String: Resident] = [:]
        private(set) var loadCounts: [String: Int] = [:]
        /// Loads that did not fit on the card and went partly to the CPU.
        private(set) var partialLoads = 0
        private var pendingLoads = 0

        init(gpu: VirtualGPU, models: [Model], knobs: LockedBox<Knobs>) {
            self.gpu = gpu
            self.knobs = knobs
            for model in models { self.models[FakeOllama.normalise(model.name)] = model }
        }

        func model(named name: String) -> Model? { models[FakeOllama.normalise(name)] }

        /// A model `/api/pull` fetched.
        func add(_ model: Model) { models[FakeOllama.normalise(model.name)] = model }
        var residentNames: [String] { residents.keys.sorted() }
        func keepAlive(of name: String) -> Double? { residents[name]?.keepAlive }
        var inFlightCounts: [String: Int] { residents.mapValues(\.inFlight) }

        /// What /api/ps lists, latest expiry first.
        func running() -> [Resident] {
            expireIdle()
            return residents.values.sorted { $0.expiresAt > $1.expiresAt }
        }

        /// Makes `model` resident with these runner options and counts one request in flight.
        /// Waits for a load in progress; reloads when the runner options differ.
        func acquire(_ model: Model, keepAlive: Double?, options: [String: JSONValue]) async throws -> Resident {
            expireIdle()
            let name = model.name
            let wanted = Self.effectiveRunnerOptions(options, model: model)
            while true {
                guard let resident = residents[name] else { break }
                switch resident.phase {
                case .loaded where resident.runnerOptions == wanted:
                    residents[name]!.inFlight += 1
                    if let keepAlive { residents[name]!.keepAlive = keepAlive }
                    return residents[name]!
                case .loaded where resident.inFlight == 0:
                    // Different runner options: Ollama stops the runner and starts another.
                    residents[name] = nil
                    await gpu.release("ollama:\(name)")
                default:
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            guard pendingLoads < knobs.value.maximumPendingLoads else {
                throw Failure(status: 503, message: "server busy, please try again.  maximum pending requests exceeded")
            }
            pendingLoads += 1
            defer { pendingLoads -= 1 }
            let defaultKeepAlive = knobs.value.defaultKeepAlive
            let duration = keepAlive ?? defaultKeepAlive
            let vram = await allocate(model)
            residents[name] = Resident(model: model, phase: .loading, sizeVRAM: vram, keepAlive: duration,
                                       expiresAt: Self.expiry(duration), inFlight: 1, runnerOptions: wanted)
            try? await Task.sleep(for: knobs.value.loadTime)
            let failure = knobs.mutate { knobs -> String? in
                guard knobs.failNextLoads.count > 0 else { return nil }
                knobs.failNextLoads.count -= 1
                return knobs.failNextLoads.message
            }
            if let failure {
                residents[name] = nil
                await gpu.release("ollama:\(name)")
                throw Failure(status: 500, message: failure)
            }
            residents[name]?.phase = .loaded
            loadCounts[name, default: 0] += 1
            return residents[name]!
        }

        /// One request ended: the idle timer starts when the last one does.
        func release(_ name: String, keepAlive: Double?) {
            guard var resident = residents[name] else { return }
            resident.inFlight = max(0, resident.inFlight - 1)
            if let keepAlive { resident.keepAlive = keepAlive }
            if resident.inFlight == 0 { resident.expiresAt = Self.expiry(resident.keepAlive) }
            residents[name] = resident
            if resident.inFlight == 0, resident.keepAlive == 0 { unload(name) }
        }

        /// `keep_alive: 0`: answered at once; the runner stops once idle, and /api/ps lists it
        /// for `unloadDelay` more.
        func unload(_ name: String) {
            guard residents[name] != nil, residents[name]?.phase != .unloading else { return }
            residents[name]?.phase = .unloading
            residents[name]?.expiresAt = Date()
            let delay = knobs.value.unloadDelay
            Task { await self.finishUnload(name, after: delay) }
        }

        private func finishUnload(_ name: String, after delay: Duration) async {
            while (residents[name]?.inFlight ?? 0) > 0 { try? await Task.sleep(for: .milliseconds(5)) }
            try? await Task.sleep(for: delay)
            guard residents[name]?.phase == .unloading else { return }
            residents[name] = nil
            await gpu.release("ollama:\(name)")
        }

        func preload(_ name: String, keepAlive: Double) async -> Bool {
            guard let model = model(named: name) else { return false }
            guard (try? await acquire(model, keepAlive: keepAlive, options: [:])) != nil else { return false }
            release(model.name, keepAlive: nil)
            return true
        }

        func forgetAll() async {
            for name in residents.keys { await gpu.release("ollama:\(name)") }
            residents = [:]
        }

        /// Charges the card: evicts idle runners (shortest keep_alive first) until the model
        /// fits; what still does not fit goes to the CPU, so size_vram < size.
        private func allocate(_ model: Model) async -> UInt64 {
            let owner = "ollama:\(model.name)"
            if await gpu.allocate(owner, bytes: model.sizeBytes) { return model.sizeBytes }
            let idle = residents.values.filter { $0.phase == .loaded && $0.inFlight == 0 }
                .sorted { ($0.keepAlive, $0.model.name) < ($1.keepAlive, $1.model.name) }
            for victim in idle {
                residents[victim.model.name] = nil
                await gpu.release("ollama:\(victim.model.name)")
                if await gpu.allocate(owner, bytes: model.sizeBytes) { return model.sizeBytes }
            }
            let free = await gpu.freeBytes
            await gpu.allocate(owner, bytes: free)
            partialLoads += 1
            return free
        }

        private func expireIdle() {
            let now = Date()
            for (name, resident) in residents
            where resident.phase == .loaded && resident.inFlight == 0 && resident.expiresAt < now {
                unload(name)
            }
        }

        static func expiry(_ seconds: Double) -> Date {
            seconds.isInfinite ? Date().addingTimeInterval(292 * 365 * 86400) : Date().addingTimeInterval(seconds)
        }

        static func effectiveRunnerOptions(_ options: [String: JSONValue], model: Model) -> [String: JSONValue] {
            var effective = options.filter { runnerOptionKeys.contains($0.key) }
            if effective["num_ctx"] == nil { effective["num_ctx"] = .number(Double(model.contextLength)) }
            return effective
        }
    }
}
