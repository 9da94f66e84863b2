import Foundation

/// One finished call to a backend, as the daemon's metrics count it. Its labels are bounded:
/// the endpoint has no query and no ids, the outcome is one of a few words.
public struct BackendCall: Sendable, Equatable {
    /// `GET`, `POST`, …
    public var method: String
    /// The path without its query, ids replaced by `:id` (`/history/:id`).
    public var endpoint: String
    /// `ok`, `http_<code>`, `timeout`, `unreachable`, `interrupted`, `undecodable`, `cancelled` or `error`.
    public var outcome: String
    public var duration: Duration

    public init(method: String, endpoint: String, outcome: String, duration: Duration) {
        self.method = method
        self.endpoint = endpoint
        self.outcome = outcome
        self.duration = duration
    }

    /// `ok` for 2xx, else `http_<code>`.
    public static func outcome(status: Int) -> String {
        (200..<300).contains(status) ? "ok" : "http_\(status)"
    }

    /// The outcome word for what a call threw.
    public static func outcome(of error: Error) -> String {
        switch error {
        case let failure as HTTPCallFailure:
            switch failure {
            case .unreachable(let why): why == "cancelled" ? "cancelled" : "unreachable"
            case .timedOut, .streamTimedOut: "timeout"
            case .status(let code, _): outcome(status: code)
            case .interrupted: "interrupted"
            case .undecodable: "undecodable"
            }
        case is CancellationError: "cancelled"
        default: "error"
        }
    }

    /// `/history/3f2a…?x=1` → `/history/:id`. A segment is an id when it holds a digit and is
    /// long (a UUID, a hash), so `/api/ps` and `/system_stats` stay as they are.
    public static func endpoint(of path: String) -> String {
        let bare = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? path
        let segments = bare.split(separator: "/", omittingEmptySubsequences: false).map { segment -> String in
            let isID = segment.count >= 12 && segment.contains(where: \.isNumber)
            return isID ? ":id" : String(segment)
        }
        return segments.joined(separator: "/")
    }
}
