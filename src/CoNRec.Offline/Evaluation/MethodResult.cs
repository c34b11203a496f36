namespace CoNRec.Offline.Evaluation;

/// <summary>
/// One case's outcome for one method, kept so the bootstrap can resample users. Flags that do not apply (a rule's hit
/// rates) are false and excluded through <see cref="MethodKind"/>.
/// </summary>
public readonly record struct CaseOutcome(bool Hr, bool Fhr, bool LongTailUser, bool LongTailCase, bool LifHit, double CandidateCredit, int SetSize);

/// <summary>One scored future item of one case (disliked or liked).</summary>
public readonly record struct ScoredItem(int Case, float Score, bool Disliked);

/// <summary>One method's metrics and operating curve over one list of cases, with the per-case detail behind them.</summary>
public sealed record MethodResult(MethodMetrics Metrics, OperatingCurve Curve)
{
    public MethodKind Kind { get; init; } = MethodKind.Generator;
    public IReadOnlyList<CaseOutcome> Outcomes { get; init; } = [];
    public IReadOnlyList<ScoredItem> Items { get; init; } = [];
    public string? Detail { get; init; }
}
