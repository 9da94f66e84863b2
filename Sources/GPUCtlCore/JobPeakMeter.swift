/// Learns what a workflow's job really takes on the card, from what ComfyUI is seen holding
/// while it runs (its /system_stats, sampled), so that the next job of that workflow is charged
/// that instead of the template's estimate. The daemon and the trace simulator both feed it.
///
/// A job's need is how far ComfyUI grew past what it held when the job began, unless what it
/// held then was this workflow's own cache (the previous job was the same workflow): then the
/// whole peak is the job's, since the next one may find the cache freed.
public struct JobPeakMeter: Sendable, Equatable {
    /// What ComfyUI was last seen holding.
    public private(set) var lastSeenHeld: UInt64 = 0
    private var heldAtStart: UInt64 = 0
    private var peak: UInt64 = 0
    /// The workflow of the job running now, and of the one whose cache ComfyUI holds.
    private var running: String??
    private var cachedWorkflow: String?

    public init() {}

    /// A /system_stats answer (or any measure of ComfyUI's working set).
    public mutating func observed(_ bytes: UInt64) {
        lastSeenHeld = bytes
        if running != nil { peak = max(peak, bytes) }
        if bytes == 0 { cachedWorkflow = nil }
    }

    /// A job of `workflow` (nil for a raw graph) begins.
    public mutating func started(workflow: String?) {
        running = .some(workflow)
        peak = lastSeenHeld
        heldAtStart = workflow != nil && workflow == cachedWorkflow ? 0 : lastSeenHeld
    }

    /// The running job ended. Returns the footprint to remember for its workflow, if it grew.
    public mutating func ended() -> (workflow: String, bytes: UInt64)? {
        guard let workflow = running else { return nil }
        running = nil
        cachedWorkflow = workflow
        let grown = peak - min(peak, heldAtStart)
        guard let workflow, grown > 0 else { return nil }
        return (workflow, grown)
    }

    /// ComfyUI gave its memory back (a /free, a restart).
    public mutating func freed() {
        lastSeenHeld = 0
        cachedWorkflow = nil
    }
}
