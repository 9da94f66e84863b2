import Foundation

/// A small generator (xorshift64*) whose every choice replays from its seed: the fault matrix,
/// the soak, the decoder fuzzing and the Scheduler's property tests print or name their seed,
/// so a failure can be run again.
public struct SeededRandom: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    public mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    /// A number in 0..<bound (0 when bound is not positive).
    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    /// A number in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A gap between arrivals that come `mean` apart on average, at random (Poisson arrivals).
    public mutating func exponential(mean: Double) -> Double { -mean * log1p(-unit()) }
}
