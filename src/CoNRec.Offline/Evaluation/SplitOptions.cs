namespace CoNRec.Offline.Evaluation;

/// <summary>How test cases are cut from the timeline (see <see cref="TemporalSplit"/>).</summary>
public enum SplitProtocol
{
    /// <summary>One global test period (the last TestDays) in rolling windows, with a validation period just before it.</summary>
    Global,

    /// <summary>Leave-last-window-out: each user's test window starts just before their last negative; validation is their previous window.</summary>
    PerUser,
}

/// <summary>Options of the temporal split; every length is in days.</summary>
public sealed record SplitOptions
{
    public SplitProtocol Protocol { get; init; } = SplitProtocol.Global;

    /// <summary>Global: length of the test period; cutoff = last timestamp − TestDays. Unused by per-user.</summary>
    public double TestDays { get; init; } = 28;

    /// <summary>Ground-truth horizon: a case at time t looks at (t, t + WindowDays] (the paper's 7 days).</summary>
    public double WindowDays { get; init; } = 7;

    /// <summary>
    /// Global: the validation period just before the cutoff, cut into windows like the test period; training ends where it
    /// starts. 0 disables validation (operating points can then only be read off the test curve, and the report says so).
    /// Per-user validation always uses each user's previous window.
    /// </summary>
    public double ValidationDays { get; init; } = 7;

    /// <summary>A (user, window) becomes a case only with at least this many negatives at or before its start.</summary>
    public int MinPastNegatives { get; init; } = 1;

    internal void Validate()
    {
        if (!Enum.IsDefined(Protocol)) throw new ArgumentOutOfRangeException(nameof(Protocol), Protocol, "Protocol must be Global or PerUser");
        if (!double.IsFinite(TestDays) || TestDays <= 0) throw new ArgumentOutOfRangeException(nameof(TestDays), TestDays, "TestDays must be > 0");
        if (!double.IsFinite(WindowDays) || WindowDays <= 0) throw new ArgumentOutOfRangeException(nameof(WindowDays), WindowDays, "WindowDays must be > 0");
        if (!double.IsFinite(ValidationDays) || ValidationDays < 0) throw new ArgumentOutOfRangeException(nameof(ValidationDays), ValidationDays, "ValidationDays must be ≥ 0");
        if (MinPastNegatives < 0) throw new ArgumentOutOfRangeException(nameof(MinPastNegatives), MinPastNegatives, "MinPastNegatives must be ≥ 0");
    }
}
