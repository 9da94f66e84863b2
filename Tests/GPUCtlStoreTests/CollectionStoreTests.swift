import Foundation
@testable import GPUCtlStore
import GRDB
import Testing

/// Collections in the store: created on first add, refused vectors of another model or length
/// (by the store's check and by the schema's trigger), kept across a reopen, deleted whole.
@Suite(.timeLimit(.minutes(3))) struct CollectionStoreTests {
    @Test func itemsAreAddedReadBackAndSurviveAReopen() throws {
        let directory = NSTemporaryDirectory() + "gpuctl-collections-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store = try JobStore(directory: directory)
        let ids = try store.addItems([
            CollectionItem(text: "one", metadata: #"{"file":"a.md"}"#, vector: [1, 0, 0]),
            CollectionItem(text: "two", metadata: nil, vector: [0, 1.5, -2]),
        ], to: "notes", model: "nomic-embed-text", dimensions: 3)
        #expect(ids.count == 2 && ids[0] < ids[1])
        try store.close()
        store = try JobStore(directory: directory)
        let record = try #require(try store.collection(named: "notes"))
        #expect(record.model == "nomic-embed-text" && record.dimensions == 3 && record.count == 2)
        let stored = try store.vectors(of: "notes")
        #expect(stored.ids == ids && stored.flat == [1, 0, 0, 0, 1.5, -2])
        #expect(try store.items(ids: [ids[1], ids[0], 999]).map(\.text) == ["two", "one"])
        #expect(try store.items(ids: [ids[0]]).first?.metadata == #"{"file":"a.md"}"#)
        #expect(try store.collections().map(\.name) == ["notes"])
        #expect(try store.deleteCollection(named: "notes"))
        #expect(try !store.deleteCollection(named: "notes"))
        #expect(try store.vectors(of: "notes").ids.isEmpty)
        #expect(try store.collections().isEmpty)
    }

    @Test func vectorsOfAnotherModelOrLengthAreRefusedWhole() throws {
        let store = try JobStore()
        _ = try store.addItems([CollectionItem(text: "a", metadata: nil, vector: [1, 2])], to: "c", model: "m", dimensions: 2)
        for (model, dimensions) in [("other", 2), ("m", 3)] {
            do {
                _ = try store.addItems([CollectionItem(text: "b", metadata: nil, vector: Array(repeating: 1, count: dimensions))],
                                       to: "c", model: model, dimensions: dimensions)
                Issue.record("added \(model)/\(dimensions) to a collection of m/2")
            } catch {
                #expect(error.mismatch?.collection.model == "m" && error.mismatch?.dimensions == dimensions)
                #expect(error.message.hasPrefix("collection c holds 2-dimension vectors from m, not \(dimensions)-dimension ones from \(model)"))
            }
        }
        #expect(try store.collection(named: "c")?.count == 1)
        // The schema holds it too, whatever the code above it does.
        #expect(throws: (any Error).self) {
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO collection_items (collection, text, vector, created_at) VALUES ('c', 'x', ?, '2026-12-07 00:00:00.000')",
                               arguments: [Data(count: 12)])
            }
        }
        #expect(throws: (any Error).self) {
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO collection_items (collection, text, metadata, vector, created_at) VALUES ('c', 'x', '[1]', ?, '2026-12-07 00:00:00.000')",
                               arguments: [Data(count: 8)])
            }
        }
        #expect(throws: (any Error).self) {
            try store.writer.write { db in
                try db.execute(sql: "INSERT INTO collection_items (collection, text, vector, created_at) VALUES ('nosuch', 'x', ?, '2026-12-07 00:00:00.000')",
                               arguments: [Data(count: 8)])
            }
        }
    }
}
