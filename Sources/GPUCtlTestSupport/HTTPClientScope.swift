import AsyncHTTPClient

/// Runs `body` with an HTTPClient of its own and shuts that client down however `body` ends.
/// An HTTPClient released without `shutdown()` stops a debug build with a precondition
/// failure, so a test that throws half-way would take the whole suite down with it.
public func withHTTPClient<Result>(
    _ configuration: HTTPClient.Configuration = .init(), _ body: (HTTPClient) async throws -> Result
) async throws -> Result {
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    let result: Result
    do {
        result = try await body(http)
    } catch {
        try? await http.shutdown()
        throw error
    }
    try await http.shutdown()
    return result
}

/// A backend client's tests: a fake and a client for it, set up and torn down together.
public enum ClientHarness {
    /// What the daemon uses, less the retries: a refused connection fails at once.
    public static var httpConfiguration: HTTPClient.Configuration {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(5))
        pool.retryConnectionEstablishment = false
        return .init(connectionPool: pool)
    }

    /// Starts a fake, makes a client for it, runs `body`, then stops both whatever happened.
    public static func running<Fake: Sendable, Client>(
        _ fake: Fake, start: (Fake) async throws -> Void, stop: (Fake) async -> Void,
        client: (Fake, HTTPClient) -> Client, _ body: (Fake, Client) async throws -> Void
    ) async throws {
        try await start(fake)
        do {
            try await withHTTPClient(httpConfiguration) { http in try await body(fake, client(fake, http)) }
        } catch {
            await stop(fake)
            throw error
        }
        await stop(fake)
    }
}
