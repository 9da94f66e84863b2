import BackendHTTP
import Testing

/// The JSON-over-HTTP layer both backend clients share: retries, backoff, and one error type
/// per backend.
@Suite struct BackendHTTPTests {
    enum Alpha: BackendIdentity { static let name = "Alpha" }
    enum Beta: BackendIdentity { static let name = "Beta" }

    @Test func backoffDoublesUpToItsCapAndIsSpreadByChance() {
        let policy = RetryPolicy(attempts: 5, baseDelay: .milliseconds(50), maximumDelay: .milliseconds(300))
        #expect(policy.delay(afterAttempt: 1, random: 1) == .milliseconds(50))
        #expect(policy.delay(afterAttempt: 2, random: 1) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 4, random: 1) == .milliseconds(300))
        #expect(policy.delay(afterAttempt: 3, random: 0.5) == .milliseconds(100))
        #expect(policy.delay(afterAttempt: 2, random: 0) == .zero)
    }

    @Test func onlyWhatIsSafeToRepeatIsRepeated() async {
        let policy = RetryPolicy(attempts: 3, baseDelay: .milliseconds(1), maximumDelay: .milliseconds(2))
        var calls = 0
        await #expect(throws: HTTPCallFailure.unreachable("refused")) {
            try await policy.run({ () async throws(HTTPCallFailure) -> Int in
                calls += 1
                throw .unreachable("refused")
            }, shouldRetry: \.isConnectionRefused)
        }
        #expect(calls == 3)
        calls = 0
        await #expect(throws: HTTPCallFailure.status(400, body: "bad")) {
            try await policy.run({ () async throws(HTTPCallFailure) -> Int in
                calls += 1
                throw .status(400, body: "bad")
            }, shouldRetry: \.isTransient)
        }
        #expect(calls == 1)
        // An idempotent read cut off is safe to repeat; an answer that cannot be read is not.
        #expect(HTTPCallFailure.status(503, body: "").isTransient && HTTPCallFailure.interrupted("cut").isTransient)
        #expect(!HTTPCallFailure.undecodable("x").isTransient && !HTTPCallFailure.interrupted("cut").isConnectionRefused)
    }

    @Test func eachBackendsErrorsAreItsOwnTypeAndNameIt() {
        let alpha = BackendError<Alpha>(.unreachable("Connection refused"), endpoint: "http://127.0.0.1:1/x") { _, body in body }
        #expect(alpha.kind == .unreachable && alpha.message == "Alpha is unreachable (Connection refused) at http://127.0.0.1:1/x")
        let beta = BackendError<Beta>(.status(418, body: "teapot"), endpoint: "http://127.0.0.1:2/y") { code, body in "\(code): \(body)" }
        #expect(beta.kind == .http && beta.status == 418 && beta.message == "418: teapot")
        let error: any Error = alpha
        #expect(error is BackendError<Alpha> && !(error is BackendError<Beta>))
        let slow = BackendError<Beta>(.streamTimedOut(.idle, seconds: 60), endpoint: "e") { _, body in body }
        #expect(slow.kind == .timeout && slow.message.contains("idle"))
    }
}
