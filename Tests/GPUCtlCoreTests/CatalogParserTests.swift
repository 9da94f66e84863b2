import Foundation
import GPUCtlCore
import GPUCtlModels
import Testing

@Suite struct CatalogParserTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func parse(_ json: String) throws(CatalogError) -> Catalog {
        try CatalogParser.parse(Data(json.utf8), file: "models.json")
    }

    func problems(_ json: String) -> [String] {
        do {
            _ = try parse(json)
            return []
        } catch {
            return error.problems
        }
    }

    @Test func theShippedCatalogIsValid() throws {
        let url = Self.repositoryRoot.appendingPathComponent("models.json")
        let catalog = try CatalogParser.parse(try Data(contentsOf: url), file: url.path)
        #expect(catalog.models.count == 8)
        #expect(catalog.model(named: "voice")?.backend == .tts)
        let summary = catalog.summary(path: nil)
        #expect(summary.ollama == 5 && summary.comfyui == 2 && summary.pinned == 1)
        #expect(catalog.model(named: "embed")?.name == "nomic-embed-text")
        #expect(catalog.model(named: "llama")?.fallback == "llama3.2:3b")
        #expect(catalog.model(named: "nomic-embed-text")?.keepAlive == .forever)
        #expect(catalog.model(named: "llama3.1:8b")?.options["num_ctx"] == .number(8192))
        #expect(catalog.model(named: "sdxl")?.vram == ByteSize(parsing: "8.5GiB"))
    }

    @Test func defaultsApply() throws {
        let catalog = try parse(#"{"models":{"m":{"backend":"ollama","vram":"1GiB"}}}"#)
        let model = try #require(catalog.model(named: "m"))
        #expect(model.priority == 50 && !model.pinned && model.keepAlive == nil && model.aliases.isEmpty)
    }

    @Test func unknownFieldIsRejectedWithSuggestion() {
        let found = problems(#"{"models":{"llama3.1:8b":{"backend":"ollama","vram":"6GiB","keepalive":"5m"}}}"#)
        #expect(found == ["model 'llama3.1:8b': unknown field 'keepalive'; did you mean 'keep_alive'?"])
        let top = problems(#"{"model":{}}"#)
        #expect(top.contains("unknown top-level field 'model'; did you mean 'models'?"))
    }

    @Test func errorsNameFileModelAndField() {
        do {
            _ = try parse(#"{"models":{"big":{"backend":"ollama","vram":"lots"}}}"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"models.json: model 'big': field 'vram' is "lots"; write a size like "6.2GiB" or "512MiB""#)
        }
    }

    @Test func everyBadFieldIsReported() {
        let found = problems("""
            {"models":{"m":{"backend":"tensorflow","priority":101,"pinned":"yes","keep_alive":"300",
             "aliases":[1],"fallback":""}}}
            """)
        #expect(found.count == 7)
        #expect(found.contains(#"model 'm': field 'backend' must be "ollama", "comfyui" or "tts", not "tensorflow""#))
        #expect(found.contains("model 'm': field 'vram' is required (e.g. \"6.2GiB\")"))
        #expect(found.contains("model 'm': field 'priority' must be a whole number from 0 to 100"))
        #expect(found.contains { $0.contains("'keep_alive' is \"300\"") })
    }

    @Test func ollamaOnlyFieldsOnComfyModelsAreRejected() {
        let found = problems(#"{"models":{"sdxl":{"backend":"comfyui","vram":"8GiB","keep_alive":"5m","options":{}}}}"#)
        #expect(found == ["model 'sdxl': field 'keep_alive' applies to ollama models only",
                          "model 'sdxl': field 'options' applies to ollama models only"])
    }

    @Test func referencesAreChecked() {
        let found = problems("""
            {"models":{
              "a":{"backend":"ollama","vram":"1GiB","aliases":["b"],"fallback":"c"},
              "b":{"backend":"ollama","vram":"1GiB","aliases":["x"],"fallback":"d"},
              "c":{"backend":"ollama","vram":"1GiB","aliases":["x"],"fallback":"a"},
              "d":{"backend":"comfyui","vram":"1GiB","fallback":"d"},
              "e":{"backend":"ollama","vram":"1GiB","fallback":"lama"}
            }}
            """)
        #expect(found.contains("model 'a': alias 'b' is already the name of a model"))
        #expect(found.contains("model 'c': alias 'x' is also an alias of 'b'"))
        #expect(found.contains { $0.hasPrefix("model 'a': its fallbacks form a cycle") })
        #expect(found.contains("model 'b': field 'fallback' names 'd', a comfyui model; a fallback must use the same backend"))
        #expect(found.contains("model 'd': field 'fallback' names the model itself"))
        #expect(found.contains("model 'e': field 'fallback' names 'lama', which is not in the catalog"))
    }

    @Test func notJSONOrWrongShape() {
        #expect(problems("{").first?.hasPrefix("is not valid JSON") == true)
        #expect(problems("[]") == ["the top level must be an object with a \"models\" object, not array"])
        #expect(problems("{}") == ["missing the \"models\" object"])
        #expect(problems(#"{"models":[]}"#) == ["\"models\" must be an object keyed by model name, not array"])
        #expect(problems(#"{"models":{"m":3}}"#) == ["model 'm': must be an object, not number"])
    }
}
