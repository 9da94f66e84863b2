import GPUCtlCore

/// Requests in arrival order, for the baselines that serve strictly in turn.
struct FIFOLine {
    struct Item: Equatable {
        var id: Scheduler.RequestID
        var target: Holder
    }

    private var items: [Item] = []
    private var head = 0

    var first: Item? { head < items.count ? items[head] : nil }
    var isEmpty: Bool { head >= items.count }
    /// What waits, oldest first.
    var waiting: ArraySlice<Item> { items[head...] }

    /// `first`: a retry goes before everything else.
    mutating func append(_ item: Item, first: Bool = false) {
        if first { items.insert(item, at: head) } else { items.append(item) }
    }

    mutating func removeFirst() {
        head += 1
        if head > 4096, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Takes out every waiting request for `target`.
    mutating func removeAll(for target: Holder) -> [Item] {
        let taken = items[head...].filter { $0.target == target }
        items = items[head...].filter { $0.target != target }
        head = 0
        return taken
    }

    /// Takes out the waiting request `id`.
    mutating func remove(_ id: Scheduler.RequestID) {
        items = items[head...].filter { $0.id != id }
        head = 0
    }
}

/// Model requests waiting, by model and in arrival order, for the baselines that run every
/// request for a loaded model at once and pick the next model by the oldest request.
struct ModelLine {
    private var byModel: [String: [Scheduler.RequestID]] = [:]
    private var order: [(id: Scheduler.RequestID, model: String)] = []
    private var head = 0
    private var taken: Set<Scheduler.RequestID> = []

    mutating func append(_ id: Scheduler.RequestID, model: String) {
        byModel[model, default: []].append(id)
        order.append((id, model))
    }

    /// The oldest request still waiting, and its model.
    mutating func first() -> (id: Scheduler.RequestID, model: String)? {
        while head < order.count, taken.contains(order[head].id) {
            taken.remove(order[head].id)
            head += 1
        }
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return head < order.count ? order[head] : nil
    }

    func hasWaiting(for model: String) -> Bool { byModel[model] != nil }

    /// Takes out every request waiting for `model`, oldest first.
    mutating func takeAll(for model: String) -> [Scheduler.RequestID] {
        let ids = byModel.removeValue(forKey: model) ?? []
        taken.formUnion(ids)
        return ids
    }

    /// The models something waits for.
    var models: Dictionary<String, [Scheduler.RequestID]>.Keys { byModel.keys }
}
