import ComfyUIClient
import Foundation
@testable import GPUCtlCore
@testable import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import NIOCore
@testable import OllamaClient
import Testing

/// Every decoder that reads bytes from a client, a config file or a backend, fed its seed
/// corpus (Tests/Fuzz/corpus, the repository's models.json and Workflows) and mutations of it
/// from a seeded generator: none may crash, and JSON that parses must write back to the same
/// value. `GPUCTL_FUZZ_RUNS` sets the mutations per target (default 2000), `GPUCTL_FUZZ_SEED`
/// the seed (printed, so a failure can be replayed); a long run is
/// `GPUCTL_FUZZ_RUNS=200000 swift test --filter DecoderFuzzTests`.
@Suite(.timeLimit(.minutes(5))) struct DecoderFuzzTests {
    static let runs = Int(ProcessInfo.processInfo.environment["GPUCTL_FUZZ_RUNS"] ?? "") ?? 2000
    static let seed = UInt64(ProcessInfo.processInfo.environment["GPUCTL_FUZZ_SEED"] ?? "") ?? 0x6770_7563_746C

    static let corpusDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<2 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Fuzz/corpus").path
    }()

    static func corpus(_ target: String) -> [[UInt8]] {
        let folder = corpusDirectory + "/" + target
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { FileManager.default.contents(atPath: folder + "/" + $0).map(Array.init) }
    }

    static func repositoryFile(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: BackendTestBed.workflowsDirectory + "/../" + path) ?? Data())
    }

    /// Runs `body` on every seed and `runs` mutations of them; reports the seed on a failure.
    static func fuzz(_ target: String, seeds: [[UInt8]], _ body: ([UInt8]) -> Void) {
        #expect(!seeds.isEmpty, "no seed corpus for \(target)")
        var mutator = Mutator(seed: seed ^ UInt64(target.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF))
        for input in seeds { body(input) }
        for _ in 0..<runs { body(mutator.mutate(seeds)) }
        print("fuzz \(target): \(seeds.count) seeds, \(runs) mutations, seed \(seed)")
    }

    @Test func jsonParsesOrFailsAndRoundTrips() {
        Self.fuzz("json", seeds: Self.corpus("json") + Self.corpus("rpc")) { bytes in
            guard let value = try? JSONParser.parse(bytes) else { return }
            let again = try? JSONParser.parse(JSONWriter.data(value))
            #expect(again == value, "\(String(decoding: bytes, as: UTF8.self))")
        }
        // Nesting far past the limit is an error, not a stack overflow.
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect((try? JSONParser.parse(deep)) == nil)
    }

    @Test func rpcLinesAndEveryMethodsParams() {
        Self.fuzz("rpc", seeds: Self.corpus("rpc")) { bytes in
            let calls: [RPCIncoming]
            switch RPCMessageParser.parse(bytes) {
            case .single(let one): calls = [one]
            case .batch(let many): calls = many
            }
            for case .call(let call) in calls {
                for method in RPCMethod.allCases {
                    _ = try? method.paramsType.init(method: method.rawValue, params: call.params)
                }
            }
        }
    }

    @Test func catalogsAndWorkflowTemplates() throws {
        Self.fuzz("catalog", seeds: [Self.repositoryFile("models.json"), Array(BackendTestBed.catalog.utf8)]) { bytes in
            _ = try? CatalogParser.parse(Data(bytes), file: "models.json")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: BackendTestBed.workflowsDirectory)
            .filter { $0.hasSuffix(".params.json") }.map { String($0.dropLast(".params.json".count)) }.sorted()
        let pairs = names.map { (Self.repositoryFile("Workflows/\($0).json"), Self.repositoryFile("Workflows/\($0).params.json")) }
        var mutator = Mutator(seed: Self.seed)
        for (graph, schema) in pairs {
            _ = try? WorkflowParser.parse(name: "w", graph: Data(graph), schema: Data(schema))
        }
        for run in 0..<Self.runs {
            let (graph, schema) = pairs[run % pairs.count]
            let mutated = mutator.mutate([run % 2 == 0 ? graph : schema])
            _ = try? WorkflowParser.parse(name: "w", graph: Data(run % 2 == 0 ? mutated : graph), schema: Data(run % 2 == 0 ? schema : mutated))
        }
    }

    @Test func comfyUIsWebSocketMessages() {
        Self.fuzz("comfy-ws", seeds: Self.corpus("comfy-ws")) { bytes in
            if let event = ComfyEvent(text: bytes) { _ = JobEvent(.event(event)) }
            _ = ComfyEvent(binary: bytes)
        }
    }

    @Test func ollamasStreamedLines() {
        Self.fuzz("ollama-line", seeds: Self.corpus("ollama-line")) { bytes in
            _ = try? InferenceLine.chunk(from: ByteBuffer(bytes: bytes), endpoint: "/api/generate")
            if let value = try? JSONParser.parse(bytes) {
                _ = InferenceChunk(value)
                _ = OllamaMetrics(value)
            }
        }
    }

    @Test func comfyUIsHistoryAndQueue() {
        Self.fuzz("comfy-history", seeds: Self.corpus("comfy-history")) { bytes in
            guard let reply = try? JSONParser.parse(bytes) else { return }
            if let entry = HistoryEntry(reply: reply, promptID: "p") { _ = ComfyHistoryOutcome(entry) }
        }
        Self.fuzz("comfy-queue", seeds: Self.corpus("comfy-queue")) { bytes in
            guard let reply = try? JSONParser.parse(bytes) else { return }
            let queue = QueueState(reply: reply)
            _ = ComfyQueueView(queue).foreign(besides: "p", ownClientID: "gpuctld-x")
            _ = PageQueueView.merged(reply, waiting: [.init(id: "w", graph: reply, clientID: nil, extraData: reply)])
        }
    }

    /// Error bodies as Ollama and ComfyUI send them (JSON or text), turned into the sentence a
    /// client is shown: never a crash, and never longer than a sentence should be.
    @Test func backendErrorBodies() {
        Self.fuzz("error-body", seeds: Self.corpus("error-body")) { bytes in
            let body = String(decoding: bytes, as: UTF8.self)
            for status in [400, 404, 500] {
                let ollama = OllamaError(.status(status, body: body), ollamaEndpoint: "/api/generate")
                #expect(ollama.message.count <= 1_100)
            }
            _ = ComfyValidation.describe(body)
        }
    }
}

/// Byte-level mutations of seed inputs, reproducible from a seed (xorshift64*): flips,
/// deletions, insertions of bytes and JSON tokens, splices of two seeds, repeats.
struct Mutator {
    private var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func below(_ bound: Int) -> Int { random.below(bound) }

    static let tokens: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "null", "true", "-", "1e999",
                                    "9223372036854775808", "-1e308", "0.0000001", "\u{0}", "\u{7f}", "\u{ff}", "{\"a\":", "[[[[[[["]
        .map { Array($0.utf8) }

    mutating func mutate(_ seeds: [[UInt8]]) -> [UInt8] {
        var bytes = seeds[below(seeds.count)]
        for _ in 0...below(4) {
            let at = below(bytes.count + 1)
            switch below(7) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] ^= UInt8(truncatingIfNeeded: 1 << below(8))
            case 1 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
            case 2: bytes.insert(contentsOf: Self.tokens[below(Self.tokens.count)], at: at)
            case 3: bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
            case 4:
                let other = seeds[below(seeds.count)]
                let from = below(other.count + 1)
                bytes = Array(bytes[..<at]) + Array(other[from...])
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, at + 1 + below(32))
                if at < end { bytes.insert(contentsOf: bytes[at..<end], at: at) }
            default: bytes = Array(bytes.prefix(at))
            }
        }
        return bytes
    }
}