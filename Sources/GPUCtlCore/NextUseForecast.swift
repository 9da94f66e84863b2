/// When each holder (a model, ComfyUI's working set) is expected to be needed next, so that an
/// eviction spares what is about to be used again (Scheduler.makeRoom). Estimated from recent
/// arrivals: the next one is expected one average gap after the last. A simulator that knows
/// the future sets the answers itself (`given`), which turns the Scheduler into Belady's
/// offline policy for comparison.
public struct NextUseForecast: Sendable, Equatable {
    /// How much the newest gap weighs in the running average.
    static let weight = 0.3

    /// How far back `longestRecentGap` looks.
    static let window: Duration = .seconds(7_200)

    struct History: Sendable, Equatable {
        var last: ContinuousClock.Instant
        var averageGap: Duration?
        /// The gaps that ended within `window` and are longer than every later one, oldest
        /// (and longest) first: the first is the longest of the window (a sliding-window
        /// maximum, O(1) per arrival however many arrive).
        var recentGaps: [(ended: ContinuousClock.Instant, gap: Duration)] = []

        static func == (lhs: History, rhs: History) -> Bool {
            lhs.last == rhs.last && lhs.averageGap == rhs.averageGap && lhs.recentGaps.map(\.gap) == rhs.recentGaps.map(\.gap)
                && lhs.recentGaps.map(\.ended) == rhs.recentGaps.map(\.ended)
        }
    }

    private var history: [Holder: History] = [:]
    /// Exact next uses, when someone knows them; replaces the estimate for every holder.
    public var given: [Holder: ContinuousClock.Instant]?

    public init() {}

    /// A request for `holder` arrived.
    public mutating func arrived(_ holder: Holder, at now: ContinuousClock.Instant) {
        guard var entry = history[holder] else {
            history[holder] = History(last: now)
            return
        }
        let gap = now - entry.last
        entry.averageGap = entry.averageGap.map { $0 * (1 - Self.weight) + gap * Self.weight } ?? gap
        while let latest = entry.recentGaps.last, latest.gap <= gap { entry.recentGaps.removeLast() }
        entry.recentGaps.append((now, gap))
        while let oldest = entry.recentGaps.first, now - oldest.ended > Self.window { entry.recentGaps.removeFirst() }
        entry.last = now
        history[holder] = entry
    }

    /// The average time between its arrivals; nil before the second.
    public func averageGap(of holder: Holder) -> Duration? { history[holder]?.averageGap }

    /// The longest of its gaps in the last two hours: work comes in bursts, and what a
    /// keep_alive must bridge is the pause between bursts, not the average gap within them.
    /// nil before the second arrival.
    public func longestRecentGap(of holder: Holder) -> Duration? { history[holder]?.recentGaps.first?.gap }

    /// When `holder` is next expected; nil when nothing says it will be used again.
    public func nextUse(of holder: Holder, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        if let given { return given[holder] }
        guard let entry = history[holder], let gap = entry.averageGap else { return nil }
        // Overdue: it is expected any moment, but a holder overdue by many gaps is fading.
        let expected = entry.last + gap
        if expected >= now { return expected }
        let overdue = now - expected
        return overdue > gap * 4 ? nil : now
    }
}
