import Foundation

/// A value set once and awaited by any number of waiters, async or blocking, each with an
/// optional limit. The piece under a child's exit and its collected output.
final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [UInt64: @Sendable (Value?) -> Void] = [:]
        var nextWaiter: UInt64 = 0
    }
    private let state = Locked(State())

    var value: Value? { state.withLock { $0.value } }

    /// Sets the value (the first call only) and wakes every waiter.
    func fulfil(_ value: Value) {
        let waiters = state.withLock { state -> [@Sendable (Value?) -> Void] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0(value) }
    }

    /// Calls `body` with the value once it is set, or with nil if `removeWaiter` takes it back first.
    private func onValue(_ body: @escaping @Sendable (Value?) -> Void) -> UInt64? {
        let present: Value?? = state.withLock { state in
            if let value = state.value { return .some(value) }
            state.nextWaiter += 1
            state.waiters[state.nextWaiter] = body
            return .none
        }
        if case .some(let value) = present { body(value); return nil }
        return state.withLock { $0.nextWaiter }
    }

    private func give(up waiter: UInt64) {
        let body = state.withLock { $0.waiters.removeValue(forKey: waiter) }
        body?(nil)
    }

    /// The value; nil if `limit` passes first. The waiting holds no thread.
    func wait(within limit: Duration? = nil) async -> Value? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            guard let waiter = onValue({ continuation.resume(returning: $0) }), let limit else { return }
            let components = limit.components
            let nanoseconds = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [self] in
                give(up: waiter)
            }
        }
    }

    /// The same, blocking the calling thread (for synchronous callers: the CLI, the bench).
    func waitBlocking(within limit: Duration? = nil) -> Value? {
        let semaphore = DispatchSemaphore(value: 0)
        let result = Locked<Value?>(nil)
        guard let waiter = onValue({ value in result.withLock { $0 = value }; semaphore.signal() }) else { return value }
        if let limit {
            let components = limit.components
            let nanoseconds = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
            if semaphore.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds))) == .timedOut {
                give(up: waiter)
                semaphore.wait()
            }
        } else {
            semaphore.wait()
        }
        return result.withLock { $0 }
    }
}

/// A value behind a lock, shared by reference. Used instead of Synchronization's `Mutex`:
/// that one locks inside the uninstrumented runtime, so ThreadSanitizer sees no ordering
/// and reports every access it guards as a race; NSLock is a pthread mutex TSan understands.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
