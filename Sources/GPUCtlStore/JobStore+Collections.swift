import Foundation
import GRDB

/// A named collection of embedded texts: the model that embedded them and their length.
public struct CollectionRecord: Sendable, Equatable {
    public var name: String
    public var model: String
    public var dimensions: Int
    public var count: Int
    public var createdAt: Date
}

/// One stored item: its text, its metadata (a JSON object's text) and its vector.
public struct CollectionItem: Sendable, Equatable {
    public var id: Int64
    public var text: String
    public var metadata: String?
    public var vector: [Float]

    public init(id: Int64 = 0, text: String, metadata: String?, vector: [Float]) {
        self.id = id
        self.text = text
        self.metadata = metadata
        self.vector = vector
    }
}

/// Vectors of another model or length than the collection holds.
public struct CollectionMismatch: Error, Sendable, Equatable {
    public var collection: CollectionRecord
    public var model: String
    public var dimensions: Int

    public init(collection: CollectionRecord, model: String, dimensions: Int) {
        self.collection = collection
        self.model = model
        self.dimensions = dimensions
    }
}

extension JobStore {
    /// Adds items to `collection` in one transaction, creating it for `model` and `dimensions`
    /// if it does not exist. A collection of another model or length refuses them all.
    /// Returns the new items' ids, in order.
    public func addItems(_ items: [CollectionItem], to collection: String, model: String,
                         dimensions: Int, at now: Date = Date()) throws(StoreError) -> [Int64] {
        let outcome = try write("add \(items.count) items to collection \(collection)") { db -> Result<[Int64], CollectionMismatch> in
            if let existing = try Self.collection(db, named: collection) {
                guard existing.model == model && existing.dimensions == dimensions else {
                    return .failure(CollectionMismatch(collection: existing, model: model, dimensions: dimensions))
                }
            } else {
                try db.execute(sql: "INSERT INTO collections (name, model, dimensions, created_at) VALUES (?, ?, ?, ?)",
                               arguments: [collection, model, dimensions, StoreDate.text(now)])
            }
            let statement = try db.cachedStatement(sql: """
                INSERT INTO collection_items (collection, text, metadata, vector, created_at) VALUES (?, ?, ?, ?, ?)
                """)
            let created = StoreDate.text(now)
            return .success(try items.map { item in
                try statement.execute(arguments: [collection, item.text, item.metadata, Self.blob(item.vector), created])
                return db.lastInsertedRowID
            })
        }
        switch outcome {
        case .success(let ids): return ids
        case .failure(let mismatch): throw StoreError.collectionMismatch(mismatch)
        }
    }

    /// One collection with its item count, or nil.
    public func collection(named name: String) throws(StoreError) -> CollectionRecord? {
        try read("read collection \(name)") { db in try Self.collection(db, named: name) }
    }

    /// Every collection, by name.
    public func collections() throws(StoreError) -> [CollectionRecord] {
        try read("list the collections") { db in
            try Row.fetchAll(db, sql: """
                SELECT c.name, c.model, c.dimensions, c.created_at,
                       (SELECT count(*) FROM collection_items i WHERE i.collection = c.name) AS count
                FROM collections c ORDER BY c.name
                """).map(Self.record)
        }
    }

    /// Every vector of `collection` in id order, row after row, with their ids: what a search
    /// index is built from.
    public func vectors(of collection: String) throws(StoreError) -> (ids: [Int64], flat: [Float]) {
        try read("read the vectors of collection \(collection)") { db in
            var ids: [Int64] = []
            var flat: [Float] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT id, vector FROM collection_items WHERE collection = ? ORDER BY id",
                                           arguments: [collection])
            while let row = try rows.next() {
                ids.append(row[0])
                let bytes: Data = row[1]
                bytes.withUnsafeBytes { raw in
                    flat.append(contentsOf: raw.bindMemory(to: Float.self))
                }
            }
            return (ids, flat)
        }
    }

    /// The items with these ids (text and metadata; vectors left out), in the order asked.
    public func items(ids: [Int64]) throws(StoreError) -> [CollectionItem] {
        guard !ids.isEmpty else { return [] }
        let found = try read("read collection items") { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            return try Row.fetchAll(db, sql: "SELECT id, text, metadata FROM collection_items WHERE id IN (\(marks))",
                                    arguments: StatementArguments(ids))
                .map { CollectionItem(id: $0[0], text: $0[1], metadata: $0[2], vector: []) }
        }
        let byID = Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0) })
        return ids.compactMap { byID[$0] }
    }

    /// Deletes a collection and its items; false when there was none.
    public func deleteCollection(named name: String) throws(StoreError) -> Bool {
        try write("delete collection \(name)") { db in
            try db.execute(sql: "DELETE FROM collections WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    private static func collection(_ db: Database, named name: String) throws -> CollectionRecord? {
        try Row.fetchOne(db, sql: """
            SELECT c.name, c.model, c.dimensions, c.created_at,
                   (SELECT count(*) FROM collection_items i WHERE i.collection = c.name) AS count
            FROM collections c WHERE c.name = ?
            """, arguments: [name]).map(record)
    }

    private static func record(_ row: Row) -> CollectionRecord {
        CollectionRecord(name: row["name"], model: row["model"], dimensions: row["dimensions"], count: row["count"],
                         createdAt: row["created_at"])
    }

    /// Little-endian float32s, as every machine gpuctld runs on lays them out.
    static func blob(_ vector: [Float]) -> Data {
        vector.withUnsafeBytes { Data($0) }
    }
}

extension StoreError {
    /// Kept apart so the daemon can tell it from a failing store.
    public static func collectionMismatch(_ mismatch: CollectionMismatch) -> StoreError {
        var error = StoreError("collection \(mismatch.collection.name) holds \(mismatch.collection.dimensions)-dimension vectors from \(mismatch.collection.model), not \(mismatch.dimensions)-dimension ones from \(mismatch.model); embed with \(mismatch.collection.model) or use another collection")
        error.mismatch = mismatch
        return error
    }
}
