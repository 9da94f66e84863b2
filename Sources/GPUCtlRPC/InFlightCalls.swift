import NIOConcurrencyHelpers

/// Every call the server has handed to a task, so that shutdown can wait for them (or cancel
/// them) before the daemon closes what they use, such as the store.
final class InFlightCalls: Sendable {
    private struct State {
        var nextID = 0
        var tasks: [Int: Task<Void, Never>] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// Runs `body` on a new task and remembers it until it ends. Returns its handle for `cancel`.
    @discardableResult
    func start(_ body: @escaping @Sendable (_ id: Int) async -> Void) -> Int {
        state.withLockedValue { state in
            let id = state.nextID
            state.nextID += 1
            state.tasks[id] = Task { [weak self] in
                await body(id)
                self?.finished(id)
            }
            return id
        }
    }

    /// Cancels these calls (a peer that went away, or a `cancel` request).
    func cancel(_ ids: some Sequence<Int>) {
        let tasks = state.withLockedValue { state in ids.compactMap { state.tasks[$0] } }
        for task in tasks { task.cancel() }
    }

    private func finished(_ id: Int) {
        _ = state.withLockedValue { $0.tasks.removeValue(forKey: id) }
    }

    var count: Int { state.withLockedValue { $0.tasks.count } }

    /// Cancels what is still running and waits until every task has ended.
    func cancelAllAndWait() async {
        let tasks = state.withLockedValue { Array($0.tasks.values) }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}
