namespace CoNRec.Core;

/// <summary>Where a candidate's negative-side match came from. Numbers match conrec.v1.MatchSource.</summary>
public enum MatchSource : byte { None = 0, Predicted = 1, RecentNegative = 2, Feedback = 3 }

/// <summary>
/// A user's negative profile as unit-normalised reconstruction rows, ready to score. The negative side is laid out
/// [predicted | recent negatives | same-day negative feedback]; the positive side is [recent positives | same-day
/// positive feedback]. Sids run parallel to rows and decide exact matches.
/// </summary>
public readonly ref struct ProfileRows
{
    public ReadOnlySpan<float> NegativeRows { get; init; }
    public ReadOnlySpan<ulong> NegativeSids { get; init; }
    /// <summary>How many leading negative rows are the model's predictions; the next <see cref="RecentNegatives"/> are recent negatives; the rest is feedback.</summary>
    public int Predicted { get; init; }
    public int RecentNegatives { get; init; }
    public ReadOnlySpan<float> PositiveRows { get; init; }
    public ReadOnlySpan<ulong> PositiveSids { get; init; }

    public int NegativeCount => NegativeSids.Length;
    public int PositiveCount => PositiveSids.Length;
}

/// <summary>
/// The one scoring rule of the negative profile, shared by <c>FilterCandidates</c>, the admin <c>tune</c> endpoint and
/// offline <c>eval</c> so that all three give bit-identical scores for the same profile and candidates:
/// <code>
/// negative = max over the negative side of cos(candidate, s)      (exactly 1 when the candidate's SID is in that side)
/// positive = max over the positive side of cos(candidate, s)      (exactly 1 likewise; 0 when the side is empty)
/// score    = negative − guard_weight · max(0, positive)
/// </code>
/// An exact SID match scores exactly 1.0 and any other SID at most <see cref="BelowExact"/>, so float rounding can
/// never split the group of exact matches nor mix it with near matches (equal scores are one step of the curve).
/// The positive guard keeps a candidate that is close to something the user just liked from being rejected only
/// because it is also close to a predicted SID.
/// </summary>
public static class ProfileScoring
{
    /// <summary>The largest score a SID that is not in the set can get: the float just below 1.</summary>
    public static readonly float BelowExact = float.BitDecrement(1f);

    /// <summary>Upper bound accepted for a guard weight (scores then stay in [−3, 1]).</summary>
    public const float MaxGuardWeight = 2f;

    /// <summary>Null when valid, else a message naming the field and the limit.</summary>
    public static string? ValidateGuardWeight(double guardWeight) =>
        double.IsFinite(guardWeight) && guardWeight is >= 0 and <= MaxGuardWeight
            ? null : $"'guard_weight' = {guardWeight} must be a finite number in [0, {MaxGuardWeight}]";

    /// <summary>
    /// Scores n candidates (unit rows, row-major d columns, and their packed SIDs) against a profile. Outputs per
    /// candidate: the score, the matched index within its source list (−1 when the negative side is empty), the
    /// source, and the positive-side score. <paramref name="scratch"/> needs n floats and n ints. Allocation-free.
    /// </summary>
    public static void Score(ReadOnlySpan<float> candidateRows, ReadOnlySpan<ulong> candidateSids, int dimension, in ProfileRows profile,
        float guardWeight, Span<float> score, Span<int> matchedIndex, Span<MatchSource> source, Span<float> positiveScore,
        Span<float> scratchScore, Span<int> scratchIndex)
    {
        int n = candidateSids.Length;
        if (candidateRows.Length != n * dimension) throw new ArgumentException($"{candidateRows.Length} candidate values for {n} SIDs of d = {dimension}", nameof(candidateRows));
        if (profile.NegativeRows.Length != profile.NegativeCount * dimension || profile.PositiveRows.Length != profile.PositiveCount * dimension)
            throw new ArgumentException("profile rows and SIDs disagree in length", nameof(profile));
        if (profile.Predicted + profile.RecentNegatives > profile.NegativeCount) throw new ArgumentException("profile part counts exceed the negative side", nameof(profile));
        if (score.Length < n || matchedIndex.Length < n || source.Length < n || positiveScore.Length < n || scratchScore.Length < n || scratchIndex.Length < n)
            throw new ArgumentException("output spans are shorter than the candidate count");

        // Negative side.
        Similarity.MaxCosine(candidateRows, profile.NegativeRows, dimension, score, matchedIndex);
        for (int i = 0; i < n; i++)
        {
            if (profile.NegativeCount == 0) { source[i] = MatchSource.None; matchedIndex[i] = -1; continue; }
            int exact = profile.NegativeSids.IndexOf(candidateSids[i]);
            if (exact >= 0) { score[i] = 1f; matchedIndex[i] = exact; }
            else score[i] = Bound(score[i]);
            int j = matchedIndex[i];
            if (j < profile.Predicted) source[i] = MatchSource.Predicted;
            else if (j < profile.Predicted + profile.RecentNegatives) { source[i] = MatchSource.RecentNegative; matchedIndex[i] = j - profile.Predicted; }
            else { source[i] = MatchSource.Feedback; matchedIndex[i] = j - profile.Predicted - profile.RecentNegatives; }
        }

        // Positive side: the guard.
        if (profile.PositiveCount == 0)
        {
            positiveScore[..n].Clear();
            return;
        }
        Similarity.MaxCosine(candidateRows, profile.PositiveRows, dimension, scratchScore, scratchIndex);
        for (int i = 0; i < n; i++)
        {
            float p = profile.PositiveSids.IndexOf(candidateSids[i]) >= 0 ? 1f : Bound(scratchScore[i]);
            positiveScore[i] = p;
            if (guardWeight > 0f && p > 0f) score[i] -= guardWeight * p;
        }
    }

    /// <summary>Clamps a cosine of two different SIDs into [−1, <see cref="BelowExact"/>] (rounding can leave [−1, 1]).</summary>
    public static float Bound(float cosine) => float.IsNegativeInfinity(cosine) ? cosine : Math.Clamp(cosine, -1f, BelowExact);
}
