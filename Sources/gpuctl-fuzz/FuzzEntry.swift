import Foundation
import GPUCtlCore
import GPUCtlModels

/// libFuzzer targets over the decoders that read what clients and config files send:
/// `json` (JSONParser, and that what parses writes back to the same value), `params` (every
/// RPC method's params reader), `catalog` (models.json), `workflow` (a template's graph and
/// schema, split at the first NUL), `pipeline` (a pipeline definition checked against the
/// Workflows/ of the working directory, then run to its end by `PipelineProgress` with every
/// step answering the same made-up outputs). Choose one with `GPUCTL_FUZZ_TARGET`. Built with
/// `scripts/fuzz` (`-sanitize=fuzzer,address`); built normally, `gpuctl-fuzz TARGET FILE…`
/// replays inputs through the same code (a crash found once stays a regression test).
enum FuzzTargets {
    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "json":
            guard let value = try? JSONParser.parse(bytes) else { return }
            guard (try? JSONParser.parse(JSONWriter.data(value))) == value else {
                fatalError("JSON did not write back to the same value: \(String(decoding: bytes, as: UTF8.self))")
            }
        case "params":
            guard let value = try? JSONParser.parse(bytes) else { return }
            for method in RPCMethod.allCases { _ = try? method.paramsType.init(method: method.rawValue, params: value) }
        case "catalog":
            _ = try? CatalogParser.parse(Data(bytes), file: "models.json")
        case "workflow":
            let split = bytes.firstIndex(of: 0) ?? bytes.endIndex
            let schema = split < bytes.endIndex ? Array(bytes[(split + 1)...]) : Array("{}".utf8)
            _ = try? WorkflowParser.parse(name: "fuzz", graph: Data(bytes[..<split]), schema: Data(schema))
        case "pipeline":
            guard let definition = try? PipelineParser.parse(name: "fuzz", data: Data(bytes), workflows: workflows.templates) else { return }
            let inputs = PipelineProgress.typed([:], for: definition)
            _ = PipelineProgress.check(inputs: inputs, of: definition)
            var progress = PipelineProgress(definition: definition, inputs: inputs)
            // Every unit succeeds with outputs of every shape a step has; bounded, as a run is.
            let made: JSONValue = ["text": "made up", "json": ["shots": [["action": "a", "image_prompt": "b"]], "scene": "s"],
                                   "file": "/tmp/x.png", "files": ["/tmp/x.png"], "bytes": 1, "seconds": 1.5, "vectors": [[0.5]]]
            for _ in 0..<500 {
                switch progress.next(current: nil) {
                case .run(let unit, _):
                    progress.started(unit)
                    progress.ended(unit, .succeeded(made))
                case .record(let unit, let outcome):
                    progress.mark(unit, outcome)
                case .finished, .failed:
                    return
                }
            }
        default:
            fatalError("GPUCTL_FUZZ_TARGET must be json, params, catalog, workflow or pipeline, not '\(target)'")
        }
    }

    static let target = ProcessInfo.processInfo.environment["GPUCTL_FUZZ_TARGET"] ?? "json"

    /// The workflow templates a pipeline's comfy steps are checked against: ./Workflows.
    static let workflows: WorkflowCatalog = {
        let folder = FileManager.default.currentDirectoryPath + "/Workflows"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return WorkflowCatalog.load(fileNames: names) { FileManager.default.contents(atPath: "\(folder)/\($0)") }
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.run(FuzzTargets.target, data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

#if GPUCTL_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// libFuzzer's driver, started from Swift's main (SwiftPM gives an executable its own main).
@main struct FuzzDriver {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
/// Replays files: `gpuctl-fuzz TARGET FILE…`.
@main struct FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let target = arguments.first else {
            FileHandle.standardError.write(Data("usage: gpuctl-fuzz json|params|catalog|workflow|pipeline FILE...\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            FuzzTargets.run(target, Array(data))
        }
        print("replayed \(arguments.count - 1) input(s) through \(target)")
    }
}
#endif
