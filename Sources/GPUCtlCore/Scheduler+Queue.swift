import GPUCtlModels

extension Scheduler {
    /// The waiting requests, indexed so a decision costs the same with 10 or 10,000 of them:
    /// by id, by model (in arrival order), and as two arrival-ordered lines, one per class,
    /// whose heads are the only candidates for "who goes next".
    struct WaitingQueue: Sendable {
        private(set) var entries: [RequestID: Waiting] = [:]
        private var byModel: [String: [RequestID]] = [:]
        private var interactive = Line()
        private var batch = Line()
        /// Kept as requests come and go, so metrics and read models never walk the queue.
        private(set) var countsByClass: [JobClass: Int] = [:]

        /// Ids in arrival order; removed ones are skipped lazily when they reach the head.
        struct Line: Sendable {
            var ids: [RequestID] = []
            var head = 0

            mutating func append(_ id: RequestID) { ids.append(id) }

            mutating func first(in entries: [RequestID: Waiting]) -> Waiting? {
                while head < ids.count {
                    if let entry = entries[ids[head]] { return entry }
                    head += 1
                }
                if head > 0 { ids.removeAll(keepingCapacity: true); head = 0 }
                return nil
            }

            mutating func compact(_ entries: [RequestID: Waiting]) {
                guard head > 1024, head * 2 > ids.count else { return }
                ids = ids[head...].filter { entries[$0] != nil }
                head = 0
            }
        }

        var count: Int { entries.count }
        var isEmpty: Bool { entries.isEmpty }
        var countsByModel: [String: Int] { byModel.mapValues(\.count).filter { $0.value > 0 } }

        private mutating func count(_ request: Waiting, _ change: Int) {
            let next = countsByClass[request.requestClass, default: 0] + change
            countsByClass[request.requestClass] = next > 0 ? next : nil
        }

        mutating func append(_ request: Waiting) {
            entries[request.id] = request
            count(request, 1)
            byModel[request.model, default: []].append(request.id)
            if request.requestClass == .interactive { interactive.append(request.id) } else { batch.append(request.id) }
        }

        @discardableResult
        mutating func remove(_ id: RequestID) -> Waiting? {
            guard let request = entries.removeValue(forKey: id) else { return nil }
            count(request, -1)
            byModel[request.model]?.removeAll { $0 == id }
            if byModel[request.model]?.isEmpty == true { byModel[request.model] = nil }
            interactive.compact(entries)
            batch.compact(entries)
            return request
        }

        func hasWaiting(for model: String) -> Bool { byModel[model] != nil }

        /// Removes and returns every request waiting for `model`, oldest first.
        mutating func takeAll(for model: String) -> [Waiting] {
            guard let ids = byModel.removeValue(forKey: model) else { return [] }
            let taken = ids.compactMap { entries.removeValue(forKey: $0) }
            for request in taken { count(request, -1) }
            return taken
        }

        /// Every request waiting for `model` now waits for `other` (its fallback), except exact
        /// ones, which stay. Returns whether any moved.
        @discardableResult
        mutating func retarget(_ model: String, to other: String) -> Bool {
            guard let all = byModel.removeValue(forKey: model) else { return false }
            let staying = all.filter { entries[$0]?.exact == true }
            let ids = all.filter { entries[$0]?.exact != true }
            if !staying.isEmpty { byModel[model] = staying }
            guard !ids.isEmpty else { return false }
            for id in ids { entries[id]?.model = other }
            let merged = (byModel[other] ?? []) + ids
            byModel[other] = merged.sorted { (entries[$0]!.since, $0) < (entries[$1]!.since, $1) }
            return true
        }

        /// The request that goes next: the oldest interactive one, unless the oldest batch one
        /// has waited `aging` and is older still; a batch request when no interactive one waits.
        mutating func next(now: ContinuousClock.Instant, aging: Duration) -> Waiting? {
            let first = interactive.first(in: entries)
            guard let oldestBatch = batch.first(in: entries) else { return first }
            guard let first else { return oldestBatch }
            return now - oldestBatch.since >= aging && oldestBatch.since < first.since ? oldestBatch : first
        }
    }
}
