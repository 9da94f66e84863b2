import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl search NAME QUERY`: the texts of a collection nearest to QUERY.
struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Find the texts of a collection nearest in meaning to QUERY.",
        discussion: "The collection is filled with `gpuctl embed -m MODEL --into NAME TEXT...`; QUERY is embedded with the same model.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The collection.") var collection: String
    @Argument(help: "What to look for.") var query: String
    @Option(name: .short, help: "How many results (1–\(CollectionsSearchParams.maximumK)).") var k: Int = 10

    func run() throws {
        var params = CollectionsSearchParams(collection: collection, query: query, k: k)
        params.k = k
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let raw = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.collectionsSearch.rawValue, params: params.json) }
        if global.json { return Output.printJSON(raw) }
        guard let result = try? JSONDecoder().decode(CollectionsSearchResult.self, from: raw) else {
            throw CLIExit.fail(.protocolError("the collections.search result does not match this client"))
        }
        Output.print(CollectionsRenderer.render(result))
    }
}

/// `gpuctl collections [list | delete NAME]`.
struct CollectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collections", abstract: "List or delete the collections of embedded texts.",
        subcommands: [List.self, Delete.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every collection: its model, dimensions and size.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            try global.show(.collectionsList, as: CollectionsListResult.self, render: CollectionsRenderer.render)
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a collection and its texts.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The collection.") var collection: String

        func run() throws {
            let client = try global.connect()
            let params = CollectionNameParams(collection: collection)
            let raw = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.collectionsDelete.rawValue, params: params.json) }
            if global.json { return Output.printJSON(raw) }
            let deleted = (try? JSONDecoder().decode(CollectionsDeleteResult.self, from: raw))?.deleted ?? false
            Output.print(deleted ? "Deleted collection \(collection)." : "There was no collection named \(collection).")
        }
    }
}

/// Collections and search results as text.
public enum CollectionsRenderer {
    /// One line per hit: score, id, text (one line, shortened), then its metadata.
    public static func render(_ result: CollectionsSearchResult) -> String {
        guard !result.hits.isEmpty else { return "Collection \(result.collection) is empty." }
        return result.hits.map { hit in
            let text = hit.text.split(whereSeparator: \.isNewline).joined(separator: " ")
            let shown = text.count > 100 ? text.prefix(99) + "…" : Substring(text)
            let metadata = hit.metadata.map { "  \($0.jsonText)" } ?? ""
            return String(format: "%.3f", hit.score) + "  #\(hit.id)  \(shown)\(metadata)"
        }.joined(separator: "\n")
    }

    public static func render(_ list: CollectionsListResult) -> String {
        guard !list.collections.isEmpty else { return "No collections yet: gpuctl embed -m MODEL --into NAME TEXT... makes one." }
        let rows = [["NAME", "MODEL", "DIMENSIONS", "ITEMS"]]
            + list.collections.map { [$0.name, $0.model, "\($0.dimensions)", "\($0.count)"] }
        return Table.render(rows)
    }
}
