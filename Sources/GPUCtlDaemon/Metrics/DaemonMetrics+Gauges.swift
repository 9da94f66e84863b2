import Foundation
import GPUCtlModels
import Metrics

/// What the gauges show, read from the Supervisor when metrics are asked for (so they are
/// never older than the scrape).
public struct MetricsSnapshot: Sendable, Equatable {
    public var budget: BudgetStatus
    public var vramUsed: UInt64
    /// Bytes held by gpuctld's consumers, by kind (`ollama`, `comfyui`).
    public var leased: [String: UInt64]
    public var modelsResident: Int
    /// Waiting requests by queue (`models`, `jobs`) and class.
    public var queueDepth: [String: [JobClass: Int]]
    public var backendsUp: [Backend: Bool]
    public var eventSubscribers: Int

    public init(budget: BudgetStatus, vramUsed: UInt64 = 0, leased: [String: UInt64] = [:], modelsResident: Int = 0,
                queueDepth: [String: [JobClass: Int]] = [:], backendsUp: [Backend: Bool] = [:], eventSubscribers: Int = 0) {
        self.budget = budget
        self.vramUsed = vramUsed
        self.leased = leased
        self.modelsResident = modelsResident
        self.queueDepth = queueDepth
        self.backendsUp = backendsUp
        self.eventSubscribers = eventSubscribers
    }

    static let consumers = ["ollama", "comfyui"]
    static let queues = ["models", "jobs"]
}

extension DaemonMetrics {
    /// Families whose label values are known up front start at 0, so a scrape shows them
    /// before anything happened (and a rate() has a starting point).
    func registerGaugeFamilies() {
        for kind in RPCErrorKind.allCases {
            _ = Counter(label: Name.errors, dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        for state in JobState.allCases where state.isFinal {
            _ = Counter(label: Name.jobsFinished, dimensions: [("state", state.rawValue)], factory: factory)
        }
        _ = Counter(label: Name.swaps, dimensions: [("outcome", "ok")], factory: factory)
        _ = Counter(label: Name.jobsRetriedForMemory, factory: factory)
        setGauges(MetricsSnapshot(budget: BudgetStatus(total: .init(bytes: 0), reserve: .init(bytes: 0),
                                                      foreign: .init(bytes: 0), budget: .init(bytes: 0))))
    }

    /// The catalog's Ollama models start with 0 loads and unloads.
    public func prepare(models: [String]) {
        for model in models {
            _ = Counter(label: Name.modelLoads, dimensions: [("model", model), ("outcome", "ok")], factory: factory)
            _ = Counter(label: Name.modelUnloads, dimensions: [("model", model)], factory: factory)
        }
    }

    func setGauges(_ snapshot: MetricsSnapshot) {
        gauge(Name.vramTotal).record(snapshot.budget.total.bytes)
        gauge(Name.vramBudget).record(snapshot.budget.budget.bytes)
        gauge(Name.vramForeign).record(snapshot.budget.foreign.bytes)
        gauge(Name.vramUsed).record(snapshot.vramUsed)
        for consumer in MetricsSnapshot.consumers {
            gauge(Name.vramLeased, [("consumer", consumer)]).record(snapshot.leased[consumer] ?? 0)
        }
        gauge(Name.modelsResident).record(snapshot.modelsResident)
        for queue in MetricsSnapshot.queues {
            for jobClass in JobClass.allCases {
                gauge(Name.queueDepth, [("queue", queue), ("class", jobClass.rawValue)])
                    .record(snapshot.queueDepth[queue]?[jobClass] ?? 0)
            }
        }
        for backend in Backend.allCases {
            gauge(Name.backendUp, [("backend", backend.rawValue)]).record(snapshot.backendsUp[backend] == true ? 1 : 0)
        }
        gauge(Name.eventSubscribers).record(snapshot.eventSubscribers)
    }

    private func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> Gauge {
        Gauge(label: name, dimensions: dimensions, factory: factory)
    }
}
