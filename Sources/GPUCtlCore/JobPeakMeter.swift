/// Learns what a workflow's job really takes on the card, from what ComfyUI is seen holding
/// while it runs, so that the next job of that workflow is charged that instead of the
/// template's estimate. The daemon and the trace simulator both feed it.
///
/// Two readings come in: the card's own (`.card`: ComfyUI's processes' memory from NVML or
/// nvidia-smi, sampled every GPU sample; it counts what PyTorch reserved, not only what it
/// allocated) and ComfyUI's allocator (`.allocator`: `torch_vram_total` from /system_stats).
/// A job seen through the card is learned from the card; else from the allocator.
///
/// A job's need is how far ComfyUI grew past what it held when the job began, unless what it
/// held then was this workflow's own cache (the previous job was the same workflow): then the
/// whole peak is the job's, since the next one may find the cache freed.
public struct JobPeakMeter: Sendable, Equatable {
    public enum Source: Sendable, Hashable, CaseIterable {
        case card
        case allocator
    }

    struct Reading: Sendable, Equatable {
        var lastSeen: UInt64 = 0
        var heldAtStart: UInt64 = 0
        var peak: UInt64 = 0
        /// Seen since the running job began.
        var seenDuringJob = false
    }

    private var readings: [Source: Reading] = [:]
    /// The workflow of the job running now, and of the one whose cache ComfyUI holds.
    private var running: String??
    private var cachedWorkflow: String?

    public init() {}

    /// A reading of ComfyUI's memory.
    public mutating func observed(_ bytes: UInt64, source: Source = .allocator) {
        var reading = readings[source] ?? Reading()
        reading.lastSeen = bytes
        if running != nil {
            reading.peak = max(reading.peak, bytes)
            reading.seenDuringJob = true
        }
        readings[source] = reading
        if bytes == 0, source == .allocator { cachedWorkflow = nil }
    }

    /// A job of `workflow` (nil for a raw graph) begins.
    public mutating func started(workflow: String?) {
        running = .some(workflow)
        let ownCache = workflow != nil && workflow == cachedWorkflow
        for source in Source.allCases {
            var reading = readings[source] ?? Reading()
            reading.peak = reading.lastSeen
            reading.heldAtStart = ownCache ? 0 : reading.lastSeen
            reading.seenDuringJob = false
            readings[source] = reading
        }
    }

    /// The running job ended. Returns the footprint to remember for its workflow, if it grew.
    public mutating func ended() -> (workflow: String, bytes: UInt64)? {
        guard let workflow = running else { return nil }
        running = nil
        cachedWorkflow = workflow
        let reading = readings[.card].flatMap { $0.seenDuringJob ? $0 : nil } ?? readings[.allocator] ?? Reading()
        let grown = reading.peak - min(reading.peak, reading.heldAtStart)
        guard let workflow, grown > 0 else { return nil }
        return (workflow, grown)
    }

    /// ComfyUI gave its memory back (a /free, a restart).
    public mutating func freed() {
        readings[.allocator]?.lastSeen = 0
        cachedWorkflow = nil
    }
}
