namespace CoNRec.Core;

public readonly record struct LabelledScore(float Score, bool Disliked);

public sealed record CurvePoint(float Threshold, double DislikedRejectRate, double LikedRejectRate, double? Precision, int Rejected);

public abstract record TuningObjective
{
    public sealed record MaxFalseRejectRate(double Value) : TuningObjective;
    public sealed record MinPrecision(double Value) : TuningObjective;
}

public sealed record TuningResult(IReadOnlyList<CurvePoint> Curve, CurvePoint? Recommended, int Disliked, int Liked, string? Problem);

/// <summary>
/// Sweeps every distinct score as a threshold (rejected = score &gt; t) over labelled samples, then picks the
/// operating point the objective asks for. Exact, not grid-based: the recommended threshold reproduces the
/// reported rates on the same samples.
/// </summary>
public static class ThresholdTuner
{
    public static TuningResult Tune(IReadOnlyList<LabelledScore> samples, TuningObjective objective, int maxCurvePoints = 200)
    {
        if (maxCurvePoints < 2) throw new ArgumentOutOfRangeException(nameof(maxCurvePoints), maxCurvePoints, "the curve needs at least 2 points");
        int disliked = samples.Count(s => s.Disliked), liked = samples.Count - disliked;
        if (disliked == 0 || liked == 0)
            return new([], null, disliked, liked, $"need at least one disliked and one liked scored sample; got {disliked} disliked, {liked} liked");

        // Cosines can leave [-1, 1] by float rounding; clamping first keeps each threshold's reported rates exact.
        var sorted = samples.Select(s => s with { Score = Math.Clamp(s.Score, -1f, 1f) }).OrderByDescending(s => s.Score).ToArray();
        var points = new List<CurvePoint>();
        int rejDisliked = 0, rejLiked = 0, k = 0;
        // Thresholds: each distinct score (rejecting everything strictly above it), then -1 (rejecting all above -1).
        while (true)
        {
            float threshold = k < sorted.Length ? sorted[k].Score : -1f;
            int rejected = rejDisliked + rejLiked;
            points.Add(new CurvePoint(threshold, (double)rejDisliked / disliked, (double)rejLiked / liked,
                rejected == 0 ? null : (double)rejDisliked / rejected, rejected));
            if (k >= sorted.Length) break;
            float v = sorted[k].Score;
            while (k < sorted.Length && sorted[k].Score == v)
            {
                if (sorted[k].Disliked) rejDisliked++; else rejLiked++;
                k++;
            }
            if (k >= sorted.Length && v <= -1f) break;
        }

        CurvePoint? best = objective switch
        {
            TuningObjective.MaxFalseRejectRate o => points.Where(p => p.LikedRejectRate <= o.Value)
                .OrderByDescending(p => p.DislikedRejectRate).ThenByDescending(p => p.Threshold).FirstOrDefault(),
            TuningObjective.MinPrecision o => points.Where(p => p.Precision >= o.Value)
                .OrderByDescending(p => p.DislikedRejectRate).ThenByDescending(p => p.Threshold).FirstOrDefault(),
            _ => throw new ArgumentOutOfRangeException(nameof(objective)),
        };

        IReadOnlyList<CurvePoint> curve = points;
        if (points.Count > maxCurvePoints)
        {
            var keep = new SortedSet<int>();
            for (int i = 0; i < maxCurvePoints; i++) keep.Add((int)((long)i * (points.Count - 1) / (maxCurvePoints - 1)));
            if (best is not null) keep.Add(points.IndexOf(best));
            curve = keep.Select(i => points[i]).ToList();
        }
        string? problem = best is null ? "no threshold meets the objective on these samples" : null;
        return new(curve, best, disliked, liked, problem);
    }
}
