import BackendHTTP
import Metrics
import Foundation
import GPUCtlModels
import Prometheus

/// The daemon's metrics: counted through swift-metrics into a Prometheus registry of its own
/// (not the process-wide `MetricsSystem`, so two daemons in one test process never mix), and
/// read out in Prometheus' text format by the `metrics` method and `--metrics-listen`.
///
/// Labels are bounded: methods outside `RPCMethod` count as `unknown`, backend endpoints have
/// no ids, outcomes are `ok` or an error kind.
public final class DaemonMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
            .milliseconds(250), .seconds(1), .seconds(5), .seconds(30), .seconds(120),
        ]
        // Loads take seconds to minutes.
        factory.durationHistogramBuckets[Name.modelLoadDuration] = [
            .milliseconds(250), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
            .seconds(120), .seconds(300),
        ]
        self.factory = factory
        registerGaugeFamilies()
    }

    /// Metric family names, and the help text each is printed with.
    enum Name {
        static let rpcRequests = "gpuctl_rpc_requests_total"
        static let rpcDuration = "gpuctl_rpc_request_duration_seconds"
        static let errors = "gpuctl_errors_total"
        static let backendCalls = "gpuctl_backend_calls_total"
        static let backendDuration = "gpuctl_backend_call_duration_seconds"
        static let backendUp = "gpuctl_backend_up"
        static let vramTotal = "gpuctl_vram_total_bytes"
        static let vramBudget = "gpuctl_vram_budget_bytes"
        static let vramLeased = "gpuctl_vram_leased_bytes"
        static let vramForeign = "gpuctl_vram_foreign_bytes"
        static let vramUsed = "gpuctl_vram_used_bytes"
        static let modelLoads = "gpuctl_model_loads_total"
        static let modelLoadDuration = "gpuctl_model_load_duration_seconds"
        static let modelUnloads = "gpuctl_model_unloads_total"
        static let modelsResident = "gpuctl_models_resident"
        static let swaps = "gpuctl_swaps_total"
        static let queueDepth = "gpuctl_queue_depth"
        static let jobsFinished = "gpuctl_jobs_finished_total"
        static let jobsRetriedForMemory = "gpuctl_jobs_memory_retries_total"
        static let eventSubscribers = "gpuctl_event_subscribers"
        static let doorRequests = "gpuctl_door_requests_total"
        static let doorDuration = "gpuctl_door_request_duration_seconds"

        static let help: [String: String] = [
            rpcRequests: "RPC calls answered, by method and outcome (ok or the error kind).",
            rpcDuration: "Time from a call's arrival to its answer (a streamed call: its whole stream), by method.",
            errors: "Errors answered to clients, by stable error kind.",
            backendCalls: "HTTP calls to the backends (Ollama, ComfyUI, the TTS server), by backend, method, endpoint and outcome.",
            backendDuration: "Duration of HTTP calls to the backends (streamed ones: until the stream ended).",
            backendUp: "1 when the backend answered its last probe, else 0.",
            vramTotal: "The card's memory.",
            vramBudget: "What gpuctld may lease: total - reserve - foreign.",
            vramLeased: "VRAM held by gpuctld's consumers (ollama models, comfyui), by consumer kind.",
            vramForeign: "VRAM held by processes that are neither Ollama nor ComfyUI.",
            vramUsed: "VRAM in use on the card, as the last GPU sample read it.",
            modelLoads: "Ollama model loads, by model and outcome (ok or failed).",
            modelLoadDuration: "How long a successful Ollama model load took, by model.",
            modelUnloads: "Ollama models that left the card, by model.",
            modelsResident: "Ollama models resident now.",
            swaps: "models.swap calls, by outcome.",
            queueDepth: "Requests waiting, by queue (models: inference and loads; jobs: ComfyUI) and class.",
            jobsFinished: "ComfyUI jobs that ended, by final state.",
            jobsRetriedForMemory: "ComfyUI jobs put back in line, charged more, after the card ran out of memory under them.",
            eventSubscribers: "Clients following events.subscribe now.",
            doorRequests: "HTTP requests answered by a front door, by door, endpoint (arbitrated ones; the rest are other) and status.",
            doorDuration: "Time from a front-door request's arrival to the end of its answer, by door and endpoint.",
        ]
    }

    // MARK: Counting

    /// One request answered by a front door (`status` 0: the client left before any answer).
    public func doorRequest(door: String, endpoint: String, status: Int, duration: Duration) {
        Counter(label: Name.doorRequests, dimensions: [("door", door), ("endpoint", endpoint), ("status", "\(status)")],
                factory: factory).increment()
        Timer(label: Name.doorDuration, dimensions: [("door", door), ("endpoint", endpoint)], factory: factory)
            .record(duration: duration)
    }

    /// One answered RPC call.
    public func rpcCall(method: String, error: RPCErrorPayload?, duration: Duration) {
        let method = RPCMethod(rawValue: method)?.rawValue ?? "unknown"
        let outcome = error.map(Self.kind) ?? "ok"
        Counter(label: Name.rpcRequests, dimensions: [("method", method), ("outcome", outcome)], factory: factory).increment()
        Timer(label: Name.rpcDuration, dimensions: [("method", method)], factory: factory).record(duration: duration)
        if let error { self.error(error) }
    }

    /// An error answered to a client (also those answered before any method ran: bad JSON,
    /// too large, forbidden, overloaded).
    public func error(_ error: RPCErrorPayload) {
        Counter(label: Name.errors, dimensions: [("kind", Self.kind(of: error))], factory: factory).increment()
    }

    /// One finished HTTP call to a backend.
    public func backendCall(_ backend: Backend, _ call: BackendCall) {
        Counter(label: Name.backendCalls, dimensions: [
            ("backend", backend.rawValue), ("method", call.method), ("endpoint", call.endpoint), ("outcome", call.outcome),
        ], factory: factory).increment()
        Timer(label: Name.backendDuration, dimensions: [("backend", backend.rawValue), ("endpoint", call.endpoint)],
              factory: factory).record(duration: call.duration)
    }

    /// A load ended; `duration` is counted only for loads that succeeded.
    public func modelLoad(_ model: String, succeeded: Bool, duration: Duration) {
        Counter(label: Name.modelLoads, dimensions: [("model", model), ("outcome", succeeded ? "ok" : "failed")],
                factory: factory).increment()
        if succeeded { Timer(label: Name.modelLoadDuration, dimensions: [("model", model)], factory: factory).record(duration: duration) }
    }

    public func modelUnloaded(_ model: String) {
        Counter(label: Name.modelUnloads, dimensions: [("model", model)], factory: factory).increment()
    }

    public func swap(error: RPCErrorPayload?) {
        Counter(label: Name.swaps, dimensions: [("outcome", error.map(Self.kind) ?? "ok")], factory: factory).increment()
    }

    public func jobFinished(_ state: JobState) {
        Counter(label: Name.jobsFinished, dimensions: [("state", state.rawValue)], factory: factory).increment()
    }

    public func jobRetriedForMemory() {
        Counter(label: Name.jobsRetriedForMemory, factory: factory).increment()
    }

    static func kind(of error: RPCErrorPayload) -> String {
        error.data?.kind ?? (error.code == -32601 ? "method_not_found" : "code_\(error.code)")
    }

    // MARK: Reading out

    /// Sets the gauges from `snapshot`, then renders every family in Prometheus' text format
    /// (version 0.0.4), with a HELP line for each.
    public func exposition(_ snapshot: MetricsSnapshot) -> String {
        setGauges(snapshot)
        return Self.withHelp(registry.emitToString())
    }

    /// Inserts `# HELP` before each `# TYPE` line of a family this daemon names.
    static func withHelp(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.split(separator: " ").dropFirst(2).first,
               let help = Name.help[String(name)] {
                lines.append("# HELP \(name) \(help)")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
