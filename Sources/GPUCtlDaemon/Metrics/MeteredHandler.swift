import Foundation
import GPUCtlModels
import GPUCtlRPC

/// Wraps the method table and counts every call it answers: by method and outcome, its
/// duration, errors by kind, and swaps.
struct MeteredHandler<Inner: RPCHandling>: RPCHandling {
    let inner: Inner
    let metrics: DaemonMetrics

    func answerImmediately(_ call: RPCCall) -> RPCReply? {
        let started = ContinuousClock.now
        guard let reply = inner.answerImmediately(call) else { return nil }
        record(call, reply, since: started)
        return reply
    }

    func handle(_ call: RPCCall, context: RPCCallContext) async -> RPCReply {
        let started = ContinuousClock.now
        let reply = await inner.handle(call, context: context)
        record(call, reply, since: started)
        return reply
    }

    private func record(_ call: RPCCall, _ reply: RPCReply, since started: ContinuousClock.Instant) {
        let error: RPCErrorPayload? = if case .error(let payload) = reply { payload } else { nil }
        metrics.rpcCall(method: call.method, error: error, duration: .now - started)
        if call.method == RPCMethod.modelsSwap.rawValue { metrics.swap(error: error) }
    }
}
