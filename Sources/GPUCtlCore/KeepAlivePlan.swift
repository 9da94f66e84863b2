/// How long Ollama should keep a model after a request when the catalog does not say:
/// Ollama's own default is 5 minutes whatever the model's use, so a model used every 8 minutes
/// is unloaded and loaded again each time. gpuctld evicts by need (the Scheduler makes room),
/// so the timer only has to bridge the pauses in the model's use: half as long again as the
/// longest of its recent gaps (NextUseForecast), never less than Ollama's default, at most an
/// hour (so an idle box gives its card back).
public enum KeepAlivePlan {
    public static let ollamaDefault: Duration = .seconds(300)
    public static let longest: Duration = .seconds(3_600)

    /// nil: send none (Ollama's default applies).
    public static func duration(longestRecentGap gap: Duration?) -> Duration? {
        guard let gap, gap > .zero else { return nil }
        return min(longest, max(ollamaDefault, gap * 1.5))
    }
}
