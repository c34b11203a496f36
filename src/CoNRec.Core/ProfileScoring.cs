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
/// The tunable parameters of the profile rule (per scene in serving, chosen on validation cases in evaluation).
/// </summary>
/// <param name="GuardWeight">Weight of the positive guard: score −= w·max(0, positive).</param>
/// <param name="PredictedWeight">How much a match with a model-predicted SID counts against one with a negative the
/// user actually gave: predicted matches are scaled by it (1 = equal footing).</param>
public readonly record struct ProfileRule(float GuardWeight, float PredictedWeight = 1f)
{
    public static readonly ProfileRule Plain = new(0f, 1f);
}

/// <summary>
/// The one scoring rule of the negative profile, shared by <c>FilterCandidates</c>, the admin <c>tune</c> endpoint and
/// offline <c>eval</c> so that all three give bit-identical scores for the same profile and candidates:
/// <code>
/// predicted = max over the model's predicted SIDs of cos(candidate, s)                 (exactly 1 for an exact SID)
/// given     = max over recent negatives and same-day negative feedback of cos(c, s)  (exactly 1 for an exact SID)
/// negative  = max(predicted_weight · predicted, given)
/// positive  = max over recent positives and same-day positive feedback of cos(c, s)  (exactly 1 likewise; 0 when empty)
/// score     = negative − guard_weight · max(0, positive)
/// </code>
/// An exact SID match scores exactly 1 (or exactly predicted_weight) and any other SID at most <see cref="BelowExact"/>
/// times that, so float rounding can never split the group of exact matches nor mix it with near matches (equal scores
/// are one step of the curve). The positive guard keeps a candidate that is close to something the user just liked from
/// being rejected only because it is also close to a predicted SID; the predicted weight lets evaluation say how much
/// the model's guesses count beside what the user actually said.
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

    /// <summary>Null when valid, else a message naming the field and the limit.</summary>
    public static string? ValidatePredictedWeight(double predictedWeight) =>
        double.IsFinite(predictedWeight) && predictedWeight is >= 0 and <= 1
            ? null : $"'predicted_weight' = {predictedWeight} must be a finite number in [0, 1]";

    /// <summary>
    /// Scores n candidates (unit rows, row-major d columns, and their packed SIDs) against a profile. Outputs per
    /// candidate: the score, the matched index within its source list (−1 when the negative side is empty), the
    /// source, and the positive-side score. Each scratch span needs n entries. Allocation-free.
    /// </summary>
    public static void Score(ReadOnlySpan<float> candidateRows, ReadOnlySpan<ulong> candidateSids, int dimension, in ProfileRows profile,
        ProfileRule rule, Span<float> score, Span<int> matchedIndex, Span<MatchSource> source, Span<float> positiveScore,
        Span<float> scratchScore, Span<int> scratchIndex)
    {
        int n = candidateSids.Length;
        if (candidateRows.Length != n * dimension) throw new ArgumentException($"{candidateRows.Length} candidate values for {n} SIDs of d = {dimension}", nameof(candidateRows));
        if (profile.NegativeRows.Length != profile.NegativeCount * dimension || profile.PositiveRows.Length != profile.PositiveCount * dimension)
            throw new ArgumentException("profile rows and SIDs disagree in length", nameof(profile));
        if (profile.Predicted + profile.RecentNegatives > profile.NegativeCount) throw new ArgumentException("profile part counts exceed the negative side", nameof(profile));
        if (score.Length < n || matchedIndex.Length < n || source.Length < n || positiveScore.Length < n || scratchScore.Length < n || scratchIndex.Length < n)
            throw new ArgumentException("output spans are shorter than the candidate count");

        // The model's predicted SIDs, scaled by the predicted weight.
        int p = profile.Predicted;
        var predictedSids = profile.NegativeSids[..p];
        Similarity.MaxCosine(candidateRows, profile.NegativeRows[..(p * dimension)], dimension, score, matchedIndex);
        for (int i = 0; i < n; i++)
        {
            source[i] = MatchSource.None;
            if (p == 0) continue;
            int exact = predictedSids.IndexOf(candidateSids[i]);
            float cosine = exact >= 0 ? 1f : Bound(score[i]);
            if (exact >= 0) matchedIndex[i] = exact;
            score[i] = rule.PredictedWeight * cosine;
            source[i] = MatchSource.Predicted;
        }

        // What the user gave: recent negatives, then same-day negative feedback. It wins unless the predicted match is higher.
        int given = profile.NegativeCount - p;
        if (given > 0)
        {
            var givenSids = profile.NegativeSids[p..];
            Similarity.MaxCosine(candidateRows, profile.NegativeRows[(p * dimension)..], dimension, scratchScore, scratchIndex);
            for (int i = 0; i < n; i++)
            {
                int exact = givenSids.IndexOf(candidateSids[i]);
                float cosine = exact >= 0 ? 1f : Bound(scratchScore[i]);
                int j = exact >= 0 ? exact : scratchIndex[i];
                if (source[i] == MatchSource.Predicted && score[i] > cosine) continue;
                score[i] = cosine;
                if (j < profile.RecentNegatives) { source[i] = MatchSource.RecentNegative; matchedIndex[i] = j; }
                else { source[i] = MatchSource.Feedback; matchedIndex[i] = j - profile.RecentNegatives; }
            }
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
            float q = profile.PositiveSids.IndexOf(candidateSids[i]) >= 0 ? 1f : Bound(scratchScore[i]);
            positiveScore[i] = q;
            if (rule.GuardWeight > 0f && q > 0f) score[i] -= rule.GuardWeight * q;
        }
    }

    /// <summary>Clamps a cosine of two different SIDs into [−1, <see cref="BelowExact"/>] (rounding can leave [−1, 1]).</summary>
    public static float Bound(float cosine) => float.IsNegativeInfinity(cosine) ? cosine : Math.Clamp(cosine, -1f, BelowExact);
}
