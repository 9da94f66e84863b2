/// Capped exponential backoff with full jitter, for calls that are safe to repeat.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries in all, the first included.
    public var attempts: Int
    public var baseDelay: Duration
    public var maximumDelay: Duration

    public init(attempts: Int = 3, baseDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(1)) {
        self.attempts = attempts
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// Never repeats.
    public static let none = RetryPolicy(attempts: 1)

    /// The wait before try number `attempt + 1` (attempt counts from 1): a random point in
    /// [0, min(cap, base × 2^(attempt−1))], so that clients that failed together spread out.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Duration {
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let capped = min(exponential, maximumDelay)
        return capped * random
    }

    /// Runs `call`, repeating it while `shouldRetry` says the failure is safe to repeat.
    public func run<T>(_ call: () async throws(HTTPCallFailure) -> T,
                       shouldRetry: (HTTPCallFailure) -> Bool) async throws(HTTPCallFailure) -> T {
        var attempt = 1
        while true {
            do {
                return try await call()
            } catch {
                guard attempt < attempts, shouldRetry(error), !Task.isCancelled else { throw error }
                try? await Task.sleep(for: delay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }
}

extension HTTPCallFailure {
    /// Nothing was sent: the connection was never made. Safe to repeat any call.
    public var isConnectionRefused: Bool {
        if case .unreachable = self { return true }
        return false
    }

    /// Worth repeating for an idempotent read (version, ps, tags): not reached, cut off, too
    /// slow, or a 5xx.
    public var isTransient: Bool {
        switch self {
        case .unreachable, .timedOut, .streamTimedOut, .interrupted: true
        case .status(let code, _): code >= 500
        case .undecodable: false
        }
    }
}
