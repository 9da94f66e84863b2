import Foundation

/// How much longer every deadline of `eventually` is: `GPUCTL_TEST_SLOWDOWN` (a whole
/// number, default 1), set by scripts/sanitize because instrumented code runs several times slower.
public let testSlowdown: Int = max(1, Int(ProcessInfo.processInfo.environment["GPUCTL_TEST_SLOWDOWN"] ?? "") ?? 1)

/// Waits until `condition` holds (an error counts as not yet), checking every few
/// milliseconds, up to `limit` (times `testSlowdown`). Returns whether it held; tests assert
/// on that, never on time.
public func eventually(within limit: Duration = .seconds(10),
                       _ condition: @Sendable () async throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit * testSlowdown
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return (try? await condition()) == true
}
