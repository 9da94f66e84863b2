import GPUCtlModels

/// What a ComfyUI job is charged on the card before it runs. A workflow's template declares
/// only its checkpoints; sampling takes activations on top (2 GiB and more for SDXL at
/// 1024²), which the catalog cannot know. Until a workflow's peak has been seen
/// (`JobPeakMeter`), its jobs are charged the estimate plus `headroom`; after, the larger of
/// the estimate and the learned peak. A workflow that loads no model of the catalog (an
/// image filter; estimate 0) gets no headroom: there is nothing to sample with. One rule for
/// the daemon and the trace simulator.
public enum JobCharge {
    /// The default allowance for activations of a workflow never seen running.
    public static let defaultHeadroom: UInt64 = 2 << 30

    public static func bytes(estimate: UInt64, learned: UInt64?, headroom: UInt64 = defaultHeadroom) -> UInt64 {
        guard let learned, learned > 0 else { return estimate > 0 ? estimate.addingSaturating(headroom) : 0 }
        return max(estimate, learned)
    }
}
