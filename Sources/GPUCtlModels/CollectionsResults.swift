import Foundation

/// `collections.add`: where the texts went and the ids they got.
public struct CollectionsAddResult: Codable, Sendable, Equatable {
    public var collection: String
    /// The model that embedded them (an alias resolved), the collection's model from now on.
    public var model: String
    public var dimensions: Int
    /// The new items' ids, in the order of the texts.
    public var ids: [Int64]
    /// Items in the collection now.
    public var count: Int

    public init(collection: String, model: String, dimensions: Int, ids: [Int64], count: Int) {
        self.collection = collection
        self.model = model
        self.dimensions = dimensions
        self.ids = ids
        self.count = count
    }
}

/// `collections.search`: the nearest items, best first.
public struct CollectionsSearchResult: Codable, Sendable, Equatable {
    /// One item found: its id, cosine similarity to the query (-1…1), text and metadata.
    public struct Hit: Codable, Sendable, Equatable {
        public var id: Int64
        public var score: Double
        public var text: String
        public var metadata: JSONValue?

        public init(id: Int64, score: Double, text: String, metadata: JSONValue?) {
            self.id = id
            self.score = score
            self.text = text
            self.metadata = metadata
        }
    }

    /// How long each half took, in milliseconds.
    public struct Timing: Codable, Sendable, Equatable {
        public var embedMs: Double
        public var searchMs: Double
        public init(embedMs: Double, searchMs: Double) {
            self.embedMs = embedMs
            self.searchMs = searchMs
        }
    }

    public var collection: String
    public var model: String
    /// Items compared (the whole collection: the search is exact).
    public var searched: Int
    public var hits: [Hit]
    public var gpuctl: Timing

    public init(collection: String, model: String, searched: Int, hits: [Hit], gpuctl: Timing) {
        self.collection = collection
        self.model = model
        self.searched = searched
        self.hits = hits
        self.gpuctl = gpuctl
    }
}

/// `collections.list`: every collection.
public struct CollectionsListResult: Codable, Sendable, Equatable {
    public struct Collection: Codable, Sendable, Equatable {
        public var name: String
        public var model: String
        public var dimensions: Int
        public var count: Int
        /// ISO 8601, UTC.
        public var createdAt: String

        public init(name: String, model: String, dimensions: Int, count: Int, createdAt: String) {
            self.name = name
            self.model = model
            self.dimensions = dimensions
            self.count = count
            self.createdAt = createdAt
        }
    }

    public var collections: [Collection]
    public init(collections: [Collection]) { self.collections = collections }
}

/// `collections.delete`: whether there was such a collection.
public struct CollectionsDeleteResult: Codable, Sendable, Equatable {
    public var collection: String
    public var deleted: Bool
    public init(collection: String, deleted: Bool) {
        self.collection = collection
        self.deleted = deleted
    }
}
