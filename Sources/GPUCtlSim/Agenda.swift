/// What happens next in a simulation, earliest first; equal times in the order they were added
/// (a binary heap, so a day of 100,000 arrivals costs log n per step).
struct Agenda<Item> {
    private struct Entry {
        var time: Double
        var order: Int
        var item: Item
        func before(_ other: Entry) -> Bool { (time, order) < (other.time, other.order) }
    }

    private var heap: [Entry] = []
    private var added = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func add(_ item: Item, at time: Double) {
        added += 1
        heap.append(Entry(time: time, order: added, item: item))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].before(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func next() -> (time: Double, item: Item)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].before(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].before(heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (first.time, first.item)
    }
}
