import GPUCtlCore
import Testing

/// Exact cosine search: the same answer as comparing every vector one by one, on one core or
/// split across several.
@Suite struct VectorIndexTests {
    /// Reproducible vectors with a few exact repeats, so ties are exercised.
    static func vectors(_ count: Int, dimensions: Int, seed: UInt64) -> [[Float]] {
        var random = SeededRandom(seed: seed)
        var rows = (0..<count).map { _ in (0..<dimensions).map { _ in Float(random.unit() * 2 - 1) } }
        for index in stride(from: 7, to: count, by: 97) { rows[index] = rows[index - 7] }
        return rows
    }

    /// What a search must return: every score by a plain loop, sorted (score, then older id).
    static func plainNearest(_ rows: [[Float]], ids: [Int64], query: [Float], k: Int) -> [VectorIndex.Hit] {
        func norm(_ vector: [Float]) -> Float { vector.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let hits = zip(ids, rows).map { id, row -> VectorIndex.Hit in
            var dot: Float = 0
            for index in row.indices { dot += row[index] * query[index] }
            return VectorIndex.Hit(id: id, score: dot / (norm(row) * norm(query)))
        }
        return Array(hits.sorted { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }.prefix(k))
    }

    @Test(arguments: [(count: 50, dimensions: 7), (count: 1_000, dimensions: 768), (count: 40_000, dimensions: 33)])
    func searchFindsWhatAPlainLoopFinds(count: Int, dimensions: Int) {
        let rows = Self.vectors(count, dimensions: dimensions, seed: UInt64(count))
        let ids = (0..<Int64(count)).map { $0 * 3 + 1 }
        var index = VectorIndex(dimensions: dimensions)
        index.append(ids: ids, flat: rows.flatMap { $0 })
        #expect(index.count == count)
        for probe in [0, count / 2, count - 1] {
            let query = rows[probe].map { $0 * 2.5 }
            let found = index.nearest(to: query, k: 10)
            let expected = Self.plainNearest(rows, ids: ids, query: query, k: 10)
            #expect(found.map(\.id) == expected.map(\.id) || zip(found, expected).allSatisfy { abs($0.score - $1.score) < 1e-5 },
                    "\(found) vs \(expected)")
            #expect(found.first?.id == ids[probe] || found.first.map { abs($0.score - 1) < 1e-5 } == true)
            #expect(zip(found, found.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
    }

    @Test func edgesAnswerSensibly() {
        var index = VectorIndex(dimensions: 3)
        #expect(index.nearest(to: [1, 0, 0], k: 5).isEmpty)
        index.append(id: 1, vector: [1, 0, 0])
        index.append(id: 2, vector: [0, 2, 0])
        index.append(id: 3, vector: [3, 0, 0])
        // Length does not count: 1 and 3 point the same way, and the older comes first.
        #expect(index.nearest(to: [5, 0, 0], k: 2) == [.init(id: 1, score: 1), .init(id: 3, score: 1)])
        #expect(index.nearest(to: [0, -1, 0], k: 1) == [.init(id: 1, score: 0)])
        #expect(index.nearest(to: [0, 1, 0], k: 10).map(\.id) == [2, 1, 3])
        #expect(index.nearest(to: [1, 0, 0], k: 0).isEmpty)
        // A zero vector (stored or asked) scores 0 against everything rather than NaN.
        index.append(id: 4, vector: [0, 0, 0])
        #expect(index.nearest(to: [0, 0, 0], k: 4).allSatisfy { $0.score == 0 })
        #expect(index.nearest(to: [0, 1, 0], k: 4).map(\.id) == [2, 1, 3, 4])
    }
}
