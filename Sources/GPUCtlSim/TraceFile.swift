import Foundation
import GPUCtlModels

/// A trace read from or written to JSON Lines: the header, then the arrivals in time order.
public struct TraceFile: Sendable, Equatable {
    public var header: Trace.Header
    public var arrivals: [Trace.Arrival]

    public init(header: Trace.Header, arrivals: [Trace.Arrival]) {
        self.header = header
        self.arrivals = arrivals
    }

    /// Why a trace could not be read, with the line that was wrong.
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads JSON Lines; blank lines are skipped, arrivals are sorted by time. Every arrival
    /// must name a model or a workflow the header declares.
    public init(jsonLines data: Data, source: String = "the trace") throws {
        let decoder = JSONDecoder()
        var header: Trace.Header?
        var arrivals: [Trace.Arrival] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { continue }
            do {
                if header == nil {
                    header = try decoder.decode(Trace.Header.self, from: Data(line))
                } else {
                    arrivals.append(try decoder.decode(Trace.Arrival.self, from: Data(line)))
                }
            } catch {
                let what = header == nil ? "the header (trace, models, workflows)" : "an arrival"
                throw ReadError(description: "\(source) line \(lineNumber) is not \(what): \(Self.reason(error))")
            }
        }
        guard let header else { throw ReadError(description: "\(source) is empty: it needs a header line, then arrivals") }
        self.header = header
        self.arrivals = arrivals
        try validate(source: source)
        // A recording writes each arrival when its work ends: put them in time order (stable).
        self.arrivals = arrivals.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    /// Reads a file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(description: "could not read \(path): no such file, or it is not readable")
        }
        try self.init(jsonLines: data, source: path)
    }

    /// The JSON Lines text.
    public func jsonLines() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        out.append((try? encoder.encode(header)) ?? Data())
        out.append(UInt8(ascii: "\n"))
        for arrival in arrivals {
            out.append((try? encoder.encode(arrival)) ?? Data())
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    private func validate(source: String) throws {
        let models = Set(header.models.map(\.name))
        let workflows = Set(header.workflows.map(\.name))
        for (index, arrival) in arrivals.enumerated() {
            let line = index + 2
            guard arrival.at.isFinite, arrival.at >= 0 else {
                throw ReadError(description: "\(source) line \(line): 'at' must be seconds since the trace began, not \(arrival.at)")
            }
            guard (arrival.serviceSeconds ?? 0) >= 0, arrival.serviceSeconds?.isFinite ?? true else {
                throw ReadError(description: "\(source) line \(line): serviceSeconds cannot be negative")
            }
            switch (arrival.model, arrival.workflow) {
            case (let model?, nil):
                guard models.contains(model) else {
                    throw ReadError(description: "\(source) line \(line): model '\(model)' is not in the header's models")
                }
                guard (arrival.promptTokens ?? 0) >= 0, (arrival.outputTokens ?? 0) >= 0 else {
                    throw ReadError(description: "\(source) line \(line): token counts cannot be negative")
                }
            case (nil, let workflow?):
                guard workflows.contains(workflow) else {
                    throw ReadError(description: "\(source) line \(line): workflow '\(workflow)' is not in the header's workflows")
                }
                guard (arrival.steps ?? 0) >= 0 else {
                    throw ReadError(description: "\(source) line \(line): steps cannot be negative")
                }
            default:
                throw ReadError(description: "\(source) line \(line): an arrival names either a model or a workflow")
            }
        }
        for model in header.models where model.tokensPerSecond <= 0 || model.promptTokensPerSecond <= 0 {
            throw ReadError(description: "\(source): model '\(model.name)' needs token rates above zero")
        }
        for workflow in header.workflows where !(workflow.secondsPerStep >= 0) {
            throw ReadError(description: "\(source): workflow '\(workflow.name)' needs secondsPerStep of zero or more")
        }
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "'\(key.stringValue)' is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty ? "not JSON" : "'\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        default: "\(error)"
        }
    }
}
