import GPUCtlCore
import GPUCtlModels
import NIOConcurrencyHelpers

/// A request let in by the Scheduler: which model it runs on and what it waited for.
public struct Admission: Sendable {
    public var id: Scheduler.RequestID
    /// The model it runs on (the fallback when `fallbackUsed`).
    public var model: String
    /// The model that was asked for, after alias resolution.
    public var requested: String
    public var fallbackUsed: Bool { model != requested }
    /// From the request to the go-ahead, loads and evictions included.
    public var waited: Duration
    /// How long its model's load took, when the model was loaded while it waited.
    public var loadTime: Duration?
    public var requestClass: JobClass = .interactive
    /// Which door it came through.
    public var source: RequestSource = .socket
    /// When it was let in.
    public var startedAt: ContinuousClock.Instant = .now
}

/// Waiting requests, each a one-shot promise that the Supervisor fulfils and a cancelled caller
/// abandons. A lock (not the actor) guards it, so a cancellation handler, which cannot await,
/// can resolve its own request at once.
final class Admissions: Sendable {
    private enum Slot {
        case pending
        case waiting(CheckedContinuation<Admission, Error>)
        case ready(Result<Admission, Error>)
        case abandoned
    }

    private let slots = NIOLockedValueBox<[Scheduler.RequestID: Slot]>([:])

    func create(_ id: Scheduler.RequestID) {
        slots.withLockedValue { $0[id] = .pending }
    }

    /// Waits for the outcome of `id` (which may already be there).
    func wait(_ id: Scheduler.RequestID) async throws -> Admission {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Admission, Error>? = slots.withLockedValue { slots in
                switch slots[id] {
                case .ready(let result)?:
                    slots[id] = nil
                    return result
                case .abandoned?, nil:
                    slots[id] = nil
                    return .failure(CancellationError())
                case .pending?, .waiting?:
                    slots[id] = .waiting(continuation)
                    return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Delivers the outcome. Returns false when the caller had already gone (a granted run must
    /// then be given back at once).
    @discardableResult
    func resolve(_ id: Scheduler.RequestID, _ result: Result<Admission, Error>) -> Bool {
        let continuation: CheckedContinuation<Admission, Error>? = slots.withLockedValue { slots in
            switch slots[id] {
            case .waiting(let continuation)?:
                slots[id] = nil
                return continuation
            case .pending?:
                slots[id] = .ready(result)
                return nil
            case .abandoned?, .ready?, nil:
                slots[id] = nil
                return nil
            }
        }
        guard let continuation else {
            return slots.withLockedValue { $0[id] } != nil
        }
        continuation.resume(with: result)
        return true
    }

    /// The caller was cancelled: it stops waiting now. Returns true when it was still waiting.
    func abandon(_ id: Scheduler.RequestID) -> Bool {
        let continuation: CheckedContinuation<Admission, Error>?? = slots.withLockedValue { slots in
            switch slots[id] {
            case .waiting(let continuation)?:
                slots[id] = nil
                return .some(continuation)
            case .pending?:
                slots[id] = .abandoned
                return .some(nil)
            default:
                return nil
            }
        }
        guard let found = continuation else { return false }
        found?.resume(throwing: CancellationError())
        return true
    }
}
