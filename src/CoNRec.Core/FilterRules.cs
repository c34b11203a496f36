namespace CoNRec.Core;

/// <summary>Numbers match conrec.v1.Mode so the gRPC layer can cast.</summary>
public enum FilterMode { Enforce = 1, Shadow = 2, Off = 3 }

/// <summary>Numbers match conrec.v1.Reason.</summary>
public enum DecisionReason { Scored = 1, NoPredictions = 2, UnknownItem = 3, StoreUnavailable = 4, FilterOff = 5 }

/// <summary>
/// One candidate's decision. <see cref="MatchedIndex"/> indexes the list named by <see cref="Source"/> (predicted SIDs,
/// recent negatives or same-day feedback); <see cref="PositiveScore"/> is the positive side's max cosine (0 without one).
/// </summary>
public readonly record struct FilterDecision(bool Rejected, bool WouldReject, float Score, int MatchedIndex, DecisionReason Reason,
    MatchSource Source = MatchSource.None, float PositiveScore = 0f);

/// <summary>
/// A scene's operating point: the threshold on the profile score (in [-1, 1]), the mode, and the profile rule's
/// guard and predicted weights (see <see cref="ProfileScoring"/>).
/// </summary>
public sealed record SceneSettings(float Threshold, FilterMode Mode, float GuardWeight = 0f, float PredictedWeight = 1f)
{
    /// <summary>The scene's parameters of the profile rule.</summary>
    public ProfileRule Rule => new(GuardWeight, PredictedWeight);

    public static readonly SceneSettings Default = new(0.9f, FilterMode.Enforce);

    /// <summary>Null when valid, else a message naming the field and the limit.</summary>
    public static string? Validate(double threshold) =>
        double.IsFinite(threshold) && threshold is >= -1 and <= 1 ? null : $"'threshold' = {threshold} must be a finite number in [-1, 1]";

    public static FilterMode? ParseMode(string? mode) => mode?.ToLowerInvariant() switch
    {
        "enforce" => FilterMode.Enforce,
        "shadow" => FilterMode.Shadow,
        "off" => FilterMode.Off,
        _ => null,
    };

    public static string ModeName(FilterMode mode) => mode switch
    {
        FilterMode.Enforce => "enforce",
        FilterMode.Shadow => "shadow",
        FilterMode.Off => "off",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };
}

public static class FilterRules
{
    /// <summary>would_reject = score &gt; threshold; rejected only when the scene enforces.</summary>
    public static FilterDecision Scored(float score, int matchedIndex, SceneSettings scene, MatchSource source = MatchSource.Predicted, float positiveScore = 0f)
    {
        if (scene.Mode == FilterMode.Off) return new(false, false, 0f, -1, DecisionReason.FilterOff);
        bool would = score > scene.Threshold;
        return new(would && scene.Mode == FilterMode.Enforce, would, score, matchedIndex, DecisionReason.Scored, source, positiveScore);
    }

    /// <summary>Every failure path keeps the candidate: the filter is an optimisation, never an outage.</summary>
    public static FilterDecision FailOpen(DecisionReason reason) => new(false, false, 0f, -1, reason);
}
