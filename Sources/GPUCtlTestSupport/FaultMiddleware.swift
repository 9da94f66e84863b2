import Hummingbird

/// The fault knobs every fake shares, applied before a route runs: a delay, and an answer that
/// replaces the route's (the fake's own error format) while a "fail next N" count lasts.
struct FaultMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let latency: @Sendable () -> Duration
    let failure: @Sendable () -> Response?

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let delay = latency()
        if delay > .zero { try await Task.sleep(for: delay) }
        if let response = failure() { return response }
        return try await next(request, context)
    }
}
