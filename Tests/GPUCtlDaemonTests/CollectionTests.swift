import Foundation
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// Collections through the daemon: texts embedded by the fake Ollama (a bag-of-words model,
/// so texts sharing words are near), stored, searched, refused when they do not belong, and
/// still there after a restart.
@Suite(.timeLimit(.minutes(3))) struct CollectionTests {
    static let notes: [(String, JSONValue)] = [
        ("the cat sat on the warm mat", ["file": "cats.md"]),
        ("dogs chase cars down the street", ["file": "dogs.md"]),
        ("a recipe for bread with flour water and salt", ["file": "bread.md"]),
        ("the stock market fell sharply on monday", ["file": "news.md"]),
    ]

    @Test func notesAreFoundByMeaningAndSurviveARestart() async throws {
        let state = try TemporaryDirectory()
        defer { state.remove() }
        try await firstDaemon(state)
        // A new daemon on the same state directory: the index is rebuilt from the store.
        let bed = try await BackendTestBed.start { $0.stateDirectory = state.file("state") }
        let again = try await bed.call(.collectionsSearch, ["collection": "notes", "query": "bread flour"],
                                       as: CollectionsSearchResult.self)
        #expect(again.searched == 5 && again.hits.count == 5)
        #expect(Set(again.hits.prefix(2).map(\.text)) == ["a recipe for bread with flour water and salt", "fresh bread from the oven"])
        let deleted = try await bed.call(.collectionsDelete, ["collection": "notes"], as: CollectionsDeleteResult.self)
        #expect(deleted.deleted)
        #expect(try await bed.errorKind(.collectionsSearch, ["collection": "notes", "query": "cat"]) == "collection_not_found")
        try await bed.stop()
    }

    /// Fills `notes` and searches it; the daemon (and its state directory's lock) is gone after.
    private func firstDaemon(_ state: TemporaryDirectory) async throws {
        let bed = try await BackendTestBed.start { $0.stateDirectory = state.file("state") }
        let added = try await bed.call(.collectionsAdd, [
            "collection": "notes", "model": "embed",
            "input": .array(Self.notes.map { .string($0.0) }), "metadata": .array(Self.notes.map(\.1)),
        ], as: CollectionsAddResult.self)
        #expect(added.model == "nomic-embed-text" && added.dimensions == 768 && added.ids.count == 4 && added.count == 4)
        // A later add may leave the model out: the collection's own is used.
        let more = try await bed.call(.collectionsAdd, ["collection": "notes", "input": "fresh bread from the oven"],
                                      as: CollectionsAddResult.self)
        #expect(more.count == 5)
        let search = try await bed.call(.collectionsSearch, ["collection": "notes", "query": "where is the cat", "k": 2],
                                        as: CollectionsSearchResult.self)
        #expect(search.searched == 5 && search.hits.count == 2)
        #expect(search.hits.first?.text == "the cat sat on the warm mat" && search.hits.first?.metadata == ["file": "cats.md"])
        #expect(search.hits[0].score > search.hits[1].score)
        let list = try await bed.call(.collectionsList, as: CollectionsListResult.self)
        #expect(list.collections.map(\.name) == ["notes"] && list.collections.first?.count == 5)
        try await bed.stop()
    }

    @Test func whatDoesNotBelongIsRefusedWithItsKind() async throws {
        let bed = try await BackendTestBed.start()
        _ = try await bed.call(.collectionsAdd, ["collection": "notes", "model": "embed", "input": "one"], as: CollectionsAddResult.self)
        // Another model's vectors (here of another length too) are refused, and nothing is added.
        let path = bed.daemon.socketPath
        let refusal = try await blocking { () -> RPCErrorPayload? in
            do {
                _ = try RPCClient(socketPath: path).callRaw("collections.add", params: ["collection": "notes", "model": "small", "input": "two"])
                return nil
            } catch RPCClientError.remote(let payload) { return payload }
        }
        #expect(refusal?.kind == .collectionMismatch)
        #expect(refusal?.message == "collection notes holds 768-dimension vectors from nomic-embed-text, not 4096-dimension ones from llama3.2:3b; embed with nomic-embed-text or use another collection")
        #expect(try await bed.call(.collectionsList, as: CollectionsListResult.self).collections.first?.count == 1)
        #expect(try await bed.errorKind(.collectionsAdd, ["collection": "new", "input": "x"]) == "invalid_params")
        #expect(try await bed.errorKind(.collectionsAdd, ["collection": "a b", "model": "embed", "input": "x"]) == "invalid_params")
        #expect(try await bed.errorKind(.collectionsAdd, ["collection": "n", "model": "embed", "input": ["x", "y"], "metadata": [["a": 1]]]) == "invalid_params")
        #expect(try await bed.errorKind(.collectionsAdd, ["collection": "n", "model": "nosuch", "input": "x"]) == "model_not_found")
        #expect(try await bed.errorKind(.collectionsSearch, ["collection": "notes", "query": "x", "k": 0]) == "invalid_params")
        #expect(try await bed.errorKind(.collectionsSearch, ["collection": "nosuch", "query": "x"]) == "collection_not_found")
        #expect(try await bed.call(.collectionsDelete, ["collection": "nosuch"], as: CollectionsDeleteResult.self).deleted == false)
        try await bed.stop()
    }

    /// What a user types: embed notes into a collection, then search it.
    @Test func theCLIEmbedsIntoACollectionAndSearchesIt() async throws {
        let bed = try await BackendTestBed.start()
        func gpuctl(_ arguments: [String], input: String? = nil) async throws -> (status: Int32?, stdout: String, stderr: String) {
            try await ChildProcess.run("gpuctl", ["--socket", bed.daemon.socketPath] + arguments, environment: ["NO_COLOR": "1"], input: input)
        }
        let add = try await gpuctl(["embed", "-m", "embed", "--into", "notes", "--meta", "source=stdin"],
                                   input: Self.notes.map(\.0).joined(separator: "\n") + "\n")
        #expect(add.status == 0 && add.stdout == "Added 4 texts to notes (4 in all; nomic-embed-text, 768 dimensions).\n", "\(add)")
        let search = try await gpuctl(["search", "notes", "dogs and cars", "-k", "1"])
        #expect(search.status == 0, "\(search)")
        let line = search.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(line.hasSuffix(#"dogs chase cars down the street  {"source":"stdin"}"#), "\(search.stdout)")
        let json = try await gpuctl(["search", "notes", "bread", "--json"])
        #expect((try? JSONDecoder().decode(CollectionsSearchResult.self, from: Data(json.stdout.utf8)))?.hits.count == 4)
        let list = try await gpuctl(["collections"])
        #expect(list.stdout == "NAME   MODEL             DIMENSIONS  ITEMS\nnotes  nomic-embed-text  768         4\n", "\(list.stdout)")
        let missing = try await gpuctl(["search", "nosuch", "x"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("gpuctl: no collection named nosuch;"), "\(missing)")
        let delete = try await gpuctl(["collections", "delete", "notes"])
        #expect(delete.stdout == "Deleted collection notes.\n", "\(delete)")
        try await bed.stop()
    }
}
