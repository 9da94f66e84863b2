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
