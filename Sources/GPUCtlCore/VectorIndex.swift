import Foundation

/// Exact nearest-neighbour search by cosine similarity over one collection's vectors, held
/// unit-length in one contiguous `[Float]` (row after row), so a query is a single pass of dot
/// products the compiler turns into SIMD, split across the cores for large collections.
/// A value: the daemon keeps one per loaded collection and appends to it as items are added.
public struct VectorIndex: Sendable {
    /// One result: the item's id and its cosine similarity to the query (-1…1).
    public struct Hit: Sendable, Equatable {
        public var id: Int64
        public var score: Float
        public init(id: Int64, score: Float) {
            self.id = id
            self.score = score
        }
    }

    /// The length of every vector.
    public let dimensions: Int
    public private(set) var ids: [Int64] = []
    /// `ids.count` rows of `dimensions` floats, each scaled to unit length.
    private var rows: [Float] = []

    /// Rows per task when a search is split across cores: small collections stay on one.
    static let rowsPerTask = 8_192

    public init(dimensions: Int) {
        precondition(dimensions > 0, "a vector index needs at least one dimension")
        self.dimensions = dimensions
    }

    public var count: Int { ids.count }

    /// Adds one vector (any length but zero; it is stored unit-length). A vector of the wrong
    /// dimension is refused by the caller before it gets here; this checks it again.
    public mutating func append(id: Int64, vector: some Collection<Float>) {
        precondition(vector.count == dimensions, "a \(vector.count)-dimension vector in a \(dimensions)-dimension index")
        let scale = Self.inverseNorm(vector)
        ids.append(id)
        rows.append(contentsOf: vector.lazy.map { $0 * scale })
    }

    /// Adds `count` vectors laid out row after row in `flat`.
    public mutating func append(ids newIDs: [Int64], flat: [Float]) {
        precondition(flat.count == newIDs.count * dimensions, "\(flat.count) floats for \(newIDs.count) vectors of \(dimensions)")
        rows.reserveCapacity(rows.count + flat.count)
        for (row, id) in newIDs.enumerated() {
            append(id: id, vector: flat[(row * dimensions)..<((row + 1) * dimensions)])
        }
    }

    /// The `k` items most similar to `query`, best first (ties: the older item first). A zero
    /// query matches nothing better than anything else: every score is 0.
    public func nearest(to query: [Float], k: Int) -> [Hit] {
        precondition(query.count == dimensions, "a \(query.count)-dimension query in a \(dimensions)-dimension index")
        guard k > 0, !ids.isEmpty else { return [] }
        let scale = Self.inverseNorm(query)
        let unit = query.map { $0 * scale }
        let tasks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, ids.count / Self.rowsPerTask))
        if tasks == 1 { return best(of: 0..<ids.count, unit: unit, k: k) }
        let perTask = (ids.count + tasks - 1) / tasks
        let partial = UnsafeSendableBox([[Hit]](repeating: [], count: tasks))
        DispatchQueue.concurrentPerform(iterations: tasks) { task in
            let range = (task * perTask)..<min(ids.count, (task + 1) * perTask)
            let found = best(of: range, unit: unit, k: k)
            partial.lock.withLock { partial.value[task] = found }
        }
        var merged = TopK(k: k)
        for hits in partial.value { for hit in hits { merged.offer(hit) } }
        return merged.sorted
    }

    /// The best `k` of the rows in `range`.
    private func best(of range: Range<Int>, unit: [Float], k: Int) -> [Hit] {
        var top = TopK(k: k)
        let dimensions = self.dimensions
        rows.withUnsafeBufferPointer { rows in
            unit.withUnsafeBufferPointer { query in
                for row in range {
                    let score = Self.dot(UnsafeBufferPointer(rebasing: rows[(row * dimensions)..<((row + 1) * dimensions)]), query)
                    top.offer(Hit(id: ids[row], score: score))
                }
            }
        }
        return top.sorted
    }

    /// The dot product, eight lanes at a time with four accumulators (what keeps the adds from
    /// waiting on one another), then the remainder one by one.
    static func dot(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Float {
        let count = a.count
        var lanes = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
        var index = 0
        let rawA = UnsafeRawPointer(a.baseAddress!), rawB = UnsafeRawPointer(b.baseAddress!)
        let stride = MemoryLayout<Float>.stride
        while index + 32 <= count {
            lanes.0 += rawA.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: index * stride, as: SIMD8<Float>.self)
            lanes.1 += rawA.loadUnaligned(fromByteOffset: (index + 8) * stride, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 8) * stride, as: SIMD8<Float>.self)
            lanes.2 += rawA.loadUnaligned(fromByteOffset: (index + 16) * stride, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 16) * stride, as: SIMD8<Float>.self)
            lanes.3 += rawA.loadUnaligned(fromByteOffset: (index + 24) * stride, as: SIMD8<Float>.self)
                * rawB.loadUnaligned(fromByteOffset: (index + 24) * stride, as: SIMD8<Float>.self)
            index += 32
        }
        var sum = ((lanes.0 + lanes.1) + (lanes.2 + lanes.3)).sum()
        while index < count {
            sum += a[index] * b[index]
            index += 1
        }
        return sum
    }

    static func inverseNorm(_ vector: some Collection<Float>) -> Float {
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 && norm.isFinite ? 1 / norm : 0
    }
}

/// The best `k` hits seen so far, kept sorted (k is small: a linear insert beats a heap).
struct TopK {
    let k: Int
    private(set) var sorted: [VectorIndex.Hit] = []

    init(k: Int) {
        self.k = k
        sorted.reserveCapacity(k + 1)
    }

    mutating func offer(_ hit: VectorIndex.Hit) {
        if sorted.count == k, let last = sorted.last, !Self.before(hit, last) { return }
        let position = sorted.firstIndex { Self.before(hit, $0) } ?? sorted.count
        sorted.insert(hit, at: position)
        if sorted.count > k { sorted.removeLast() }
    }

    /// Higher score first; the same score: the older (smaller) id first.
    static func before(_ a: VectorIndex.Hit, _ b: VectorIndex.Hit) -> Bool {
        a.score != b.score ? a.score > b.score : a.id < b.id
    }
}

/// Results written by concurrent tasks into their own slots.
private final class UnsafeSendableBox<Value>: @unchecked Sendable {
    var value: Value
    let lock = NSLock()
    init(_ value: Value) { self.value = value }
}
