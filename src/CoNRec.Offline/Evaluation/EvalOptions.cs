namespace CoNRec.Offline.Evaluation;

/// <summary>Metric settings; defaults are the paper's (top 20, 20 candidates, long-tail users &lt; 3 and items &lt; 5 negatives).</summary>
public sealed record EvalOptions
{
    /// <summary>Predicted SIDs considered per case (the @K of HR/FHR/LUF/LIF); longer predictions are truncated.</summary>
    public int K { get; init; } = 20;

    /// <summary>Candidate Acc: the true negative plus CandidateCount − 1 distractors.</summary>
    public int CandidateCount { get; init; } = 20;

    /// <summary>Seed of the per-case distractor draw (mixed with the user id and window start).</summary>
    public int Seed { get; init; }

    /// <summary>LUF: a case's user is long-tail when it has fewer than this many past negatives.</summary>
    public int LongTailUserNegatives { get; init; } = 3;

    /// <summary>LIF: an item is long-tail when it has fewer than this many negatives (by anyone) at the case's start.</summary>
    public int LongTailItemNegatives { get; init; } = 5;

    internal void Validate()
    {
        if (K < 1) throw new ArgumentOutOfRangeException(nameof(K), K, "K must be ≥ 1");
        if (CandidateCount < 2) throw new ArgumentOutOfRangeException(nameof(CandidateCount), CandidateCount, "CandidateCount must be ≥ 2 (the target and a distractor)");
        if (LongTailUserNegatives < 0) throw new ArgumentOutOfRangeException(nameof(LongTailUserNegatives), LongTailUserNegatives, "must be ≥ 0");
        if (LongTailItemNegatives < 0) throw new ArgumentOutOfRangeException(nameof(LongTailItemNegatives), LongTailItemNegatives, "must be ≥ 0");
    }
}
