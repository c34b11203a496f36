namespace CoNRec.Offline.Evaluation;

/// <summary>
/// The filter's operating curve over labelled future items: thresholds are the grid −1, −0.99, …, 1 plus the distinct
/// scores (at most <see cref="MaxExactThresholds"/> of them, evenly spaced, so large runs stay small), ordered from
/// the highest threshold (nothing rejected) to the lowest. A rate with an empty denominator is 0.
/// Scores are clamped to [−1, 1] (float rounding) except −∞, which stands for an item the filter cannot score
/// (unknown to the catalog, or no predictions): it is never rejected, as the service fails open.
/// </summary>
public sealed class OperatingCurve
{
    public const int MaxExactThresholds = 2000;

    public IReadOnlyList<OperatingPoint> Points { get; }
    public int Disliked { get; }
    public int Liked { get; }

    private OperatingCurve(IReadOnlyList<OperatingPoint> points, int disliked, int liked)
    {
        Points = points;
        Disliked = disliked;
        Liked = liked;
    }

    public static OperatingCurve Build(IEnumerable<(float Score, bool Disliked)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var sorted = samples.Select(s => (Score: float.IsNegativeInfinity(s.Score) ? s.Score : Math.Clamp(s.Score, -1f, 1f), s.Disliked))
            .Where(s => !float.IsNaN(s.Score)).OrderByDescending(s => s.Score).ToArray();
        int disliked = sorted.Count(s => s.Disliked), liked = sorted.Length - disliked;

        // Thresholds live in float, like the scores, so a grid value and an equal score are one threshold.
        var thresholds = new SortedSet<float>();
        for (int k = -100; k <= 100; k++) thresholds.Add((float)(k / 100.0));
        var distinct = sorted.Select(s => s.Score).Where(float.IsFinite).Distinct().ToArray();
        int take = Math.Min(distinct.Length, MaxExactThresholds);
        for (int k = 0; k < take; k++) thresholds.Add(distinct[take == distinct.Length ? k : (int)((long)k * (distinct.Length - 1) / (take - 1))]);

        var points = new List<OperatingPoint>(thresholds.Count);
        int next = 0, rejDisliked = 0, rejLiked = 0;
        foreach (float t in thresholds.Reverse())
        {
            while (next < sorted.Length && sorted[next].Score > t)
            {
                if (sorted[next].Disliked) rejDisliked++; else rejLiked++;
                next++;
            }
            int rejected = rejDisliked + rejLiked;
            points.Add(new OperatingPoint(t, Rate(rejDisliked, disliked), Rate(rejLiked, liked), rejected == 0 ? null : (double)rejDisliked / rejected));
        }
        return new OperatingCurve(points, disliked, liked);
    }

    /// <summary>
    /// The point rejecting the most disliked items while rejecting at most <paramref name="maxLikedRate"/> of liked ones;
    /// ties go to the lower liked rate, then the higher threshold. Null only for an empty curve.
    /// </summary>
    public OperatingPoint? PointAtLikedRate(double maxLikedRate = 0.05) =>
        Points.Where(p => p.LikedRejectRate <= maxLikedRate)
              .OrderByDescending(p => p.DislikedRejectRate).ThenBy(p => p.LikedRejectRate).ThenByDescending(p => p.Threshold)
              .FirstOrDefault();

    private static double Rate(int hits, int total) => total == 0 ? 0 : (double)hits / total;
}
