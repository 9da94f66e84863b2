import Foundation
import GPUCtlModels
import GPUCtlSim
import GPUCtlTestSupport
import Testing

/// Reading traces: what is wrong is named with its line.
@Suite(.serialized) struct TraceFileTests {
    static let header = #"{"trace":"t","models":[{"name":"m","bytes":"4GiB","tokensPerSecond":40,"promptTokensPerSecond":1000}],"workflows":[{"name":"w","checkpoints":["c"],"checkpointBytes":"2GiB","activationBytes":"1GiB","secondsPerStep":0.1}]}"#

    static func read(_ lines: [String]) throws -> TraceFile {
        try TraceFile(jsonLines: Data(lines.joined(separator: "\n").utf8), source: "t.jsonl")
    }

    @Test func aWellFormedTraceReads() throws {
        let trace = try Self.read([Self.header, #"{"at":0,"model":"m","promptTokens":10,"outputTokens":5,"class":"interactive"}"#, "",
                                   #"{"at":1.5,"workflow":"w","steps":20,"class":"batch"}"#])
        #expect(trace.arrivals.count == 2 && trace.header.models[0].bytes == .gibibytes(4))
        #expect(trace.arrivals[1].requestClass == .batch)
    }

    @Test(arguments: [
        (#"{"at":0,"model":"nope","class":"interactive"}"#, "line 2: model 'nope' is not in the header's models"),
        (#"{"at":0,"workflow":"nope","class":"batch"}"#, "line 2: workflow 'nope' is not in the header's workflows"),
        (#"{"at":0,"class":"batch"}"#, "line 2: an arrival names either a model or a workflow"),
        (#"{"at":-1,"model":"m","class":"batch"}"#, "line 2: 'at' must be seconds since the trace began"),
        (#"{"at":0,"model":"m","promptTokens":-3,"class":"batch"}"#, "line 2: token counts cannot be negative"),
        (#"{"at":0,"model":"m"}"#, "line 2 is not an arrival: 'class' is missing"),
        (#"{"at":0,"model":"m","class":"urgent"}"#, "line 2 is not an arrival"),
        ("not json", "line 2 is not an arrival"),
    ])
    func aBadArrivalIsNamedByItsLine(line: String, expected: String) {
        #expect {
            try Self.read([Self.header, line])
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    /// A recording writes arrivals as their work ends: they are put in time order.
    @Test func arrivalsAreSortedByTime() throws {
        let trace = try Self.read([Self.header, #"{"at":5,"model":"m","class":"batch","serviceSeconds":1}"#,
                                   #"{"at":4,"workflow":"w","class":"batch"}"#, #"{"at":5,"model":"m","class":"interactive"}"#])
        #expect(trace.arrivals.map(\.at) == [4, 5, 5])
        #expect(trace.arrivals.map(\.requestClass) == [.batch, .batch, .interactive])
        #expect(throws: TraceFile.ReadError.self) {
            try Self.read([Self.header, #"{"at":1,"model":"m","class":"batch","serviceSeconds":-1}"#])
        }
    }

    @Test func anEmptyFileOrABadHeaderIsRefused() {
        #expect(throws: TraceFile.ReadError.self) { try Self.read([]) }
        #expect(throws: TraceFile.ReadError.self) { try Self.read([#"{"trace":"t"}"#]) }
    }

    /// The shipped files are the named traces, byte for byte (`gpuctl-sim generate --named`).
    /// (Read on a thread of its own: decoding the longest takes seconds in a debug build, which
    /// on the cooperative pool would hold a thread the daemon tests' in-process daemons need.)
    @Test(arguments: TraceLibrary.names) func theShippedFileIsTheNamedTrace(name: String) async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Traces/\(name).jsonl").path
        let (file, named) = try await blocking { (try TraceFile(contentsOf: path), TraceLibrary.named(name)) }
        #expect(file == named)
        #expect(FileManager.default.contents(atPath: path) == named?.jsonLines())
    }
}
