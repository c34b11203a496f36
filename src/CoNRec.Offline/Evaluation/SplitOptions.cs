namespace CoNRec.Offline.Evaluation;

/// <summary>Temporal split: the last <see cref="TestDays"/> are the test period, cut into rolling windows.</summary>
public sealed record SplitOptions
{
    /// <summary>Length of the test period; cutoff = last timestamp − TestDays.</summary>
    public double TestDays { get; init; } = 28;

    /// <summary>Ground-truth horizon: a case at time t looks at (t, t + WindowDays] (the paper's 7 days).</summary>
    public double WindowDays { get; init; } = 7;

    /// <summary>A (user, window) becomes a case only with at least this many negatives at or before its start.</summary>
    public int MinPastNegatives { get; init; } = 1;

    internal void Validate()
    {
        if (!double.IsFinite(TestDays) || TestDays <= 0) throw new ArgumentOutOfRangeException(nameof(TestDays), TestDays, "TestDays must be > 0");
        if (!double.IsFinite(WindowDays) || WindowDays <= 0) throw new ArgumentOutOfRangeException(nameof(WindowDays), WindowDays, "WindowDays must be > 0");
        if (MinPastNegatives < 0) throw new ArgumentOutOfRangeException(nameof(MinPastNegatives), MinPastNegatives, "MinPastNegatives must be ≥ 0");
    }
}
