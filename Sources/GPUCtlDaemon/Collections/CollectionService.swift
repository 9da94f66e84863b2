import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlStore

/// Collections of embedded texts for similarity search. Texts are embedded through the
/// ModelService (so the embedding model is admitted and loaded like any other request), kept in
/// the store (the truth: durable, constraints in SQL), and searched exactly in a `VectorIndex`
/// per collection, built from the store on its first search and appended to as items arrive.
actor CollectionService {
    private let store: JobStore
    private let models: ModelService
    private var indices: [String: VectorIndex] = [:]

    init(store: JobStore, models: ModelService) {
        self.store = store
        self.models = models
    }

    /// `collections.add`: embeds every text, then stores them all in one transaction.
    func add(_ params: CollectionsAddParams) async throws -> CollectionsAddResult {
        let existing = try store.collection(named: params.collection)
        guard let modelName = params.model ?? existing?.model else { throw CollectionError.modelNeeded(params.collection) }
        var embed = EmbedParams(model: modelName, input: params.input)
        embed.requestClass = params.requestClass
        let reply = try await models.embed(embed)
        let vectors = try Self.floats(reply.embeddings, count: params.input.count, model: reply.model)
        let metadata = params.metadata?.map { String(decoding: JSONWriter.data(.object($0)), as: UTF8.self) }
        let items = params.input.enumerated().map { index, text in
            CollectionItem(text: text, metadata: metadata?[index], vector: vectors[index])
        }
        let ids = try store.addItems(items, to: params.collection, model: reply.model, dimensions: reply.dimensions)
        if var index = indices[params.collection] {
            for (id, vector) in zip(ids, vectors) { index.append(id: id, vector: vector) }
            indices[params.collection] = index
        }
        let count = try store.collection(named: params.collection)?.count ?? ids.count
        return CollectionsAddResult(collection: params.collection, model: reply.model, dimensions: reply.dimensions,
                                    ids: ids, count: count)
    }

    /// `collections.search`: embeds the query with the collection's model, then compares it
    /// with every item.
    func search(_ params: CollectionsSearchParams) async throws -> CollectionsSearchResult {
        guard let record = try store.collection(named: params.collection) else { throw CollectionError.notFound(params.collection) }
        let started = ContinuousClock.now
        var embed = EmbedParams(model: record.model, input: [params.query])
        embed.requestClass = params.requestClass
        let reply = try await models.embed(embed)
        let query = try Self.floats(reply.embeddings, count: 1, model: reply.model)[0]
        guard reply.model == record.model, query.count == record.dimensions else {
            throw StoreError.collectionMismatch(CollectionMismatch(collection: record, model: reply.model, dimensions: query.count))
        }
        let embedded = ContinuousClock.now
        let index = try loadIndex(record)
        let hits = index.nearest(to: query, k: params.k)
        let items = Dictionary(uniqueKeysWithValues: try store.items(ids: hits.map(\.id)).map { ($0.id, $0) })
        let found = hits.compactMap { hit -> CollectionsSearchResult.Hit? in
            guard let item = items[hit.id] else { return nil }
            return .init(id: hit.id, score: (Double(hit.score) * 1e6).rounded() / 1e6, text: item.text,
                         metadata: item.metadata.flatMap { try? JSONParser.parse(Data($0.utf8)) })
        }
        let ended = ContinuousClock.now
        return CollectionsSearchResult(collection: record.name, model: record.model, searched: index.count, hits: found,
                                       gpuctl: .init(embedMs: (embedded - started).milliseconds, searchMs: (ended - embedded).milliseconds))
    }

    /// `collections.list`.
    func list() throws -> CollectionsListResult {
        CollectionsListResult(collections: try store.collections().map {
            .init(name: $0.name, model: $0.model, dimensions: $0.dimensions, count: $0.count,
                  createdAt: $0.createdAt.formatted(.iso8601))
        })
    }

    /// `collections.delete`.
    func delete(_ params: CollectionNameParams) throws -> CollectionsDeleteResult {
        indices[params.collection] = nil
        return CollectionsDeleteResult(collection: params.collection, deleted: try store.deleteCollection(named: params.collection))
    }

    private func loadIndex(_ record: CollectionRecord) throws -> VectorIndex {
        if let index = indices[record.name] { return index }
        let stored = try store.vectors(of: record.name)
        var index = VectorIndex(dimensions: record.dimensions)
        index.append(ids: stored.ids, flat: stored.flat)
        indices[record.name] = index
        return index
    }

    /// Ollama's vectors as floats: one per text, each finite and of one length.
    static func floats(_ embeddings: [[Double]], count: Int, model: String) throws -> [[Float]] {
        guard embeddings.count == count, let length = embeddings.first?.count, length > 0,
              embeddings.allSatisfy({ $0.count == length && $0.allSatisfy(\.isFinite) }) else {
            throw CollectionError.badVectors(model: model, expected: count, got: embeddings.count)
        }
        return embeddings.map { $0.map(Float.init) }
    }
}

/// What a collection call can get wrong besides the store and the model.
enum CollectionError: Error, Sendable {
    case notFound(String)
    /// The first add to a collection must name the model that embeds it.
    case modelNeeded(String)
    /// Ollama's answer is not one finite vector per text, all of one length.
    case badVectors(model: String, expected: Int, got: Int)

    var message: String {
        switch self {
        case .notFound(let name):
            "no collection named \(name); add texts to it first (gpuctl embed -m MODEL --into \(name) TEXT), or see gpuctl collections"
        case .modelNeeded(let name):
            "collection \(name) does not exist yet, so its first add must name the model that embeds it ('model', or gpuctl embed -m MODEL)"
        case .badVectors(let model, let expected, let got):
            "\(model) did not answer with one finite vector of one length per text (\(got) vectors for \(expected) texts); is it an embedding model?"
        }
    }
}
