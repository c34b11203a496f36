namespace CoNRec.Offline.Evaluation;

/// <summary>
/// The filter's operating curve over labelled future items, with equal scores as one step: a threshold t rejects every
/// item scoring strictly above it, and the thresholds are the distinct scores themselves (highest first: nothing
/// rejected), then −1 (every scorable item rejected). So a group of tied scores is rejected all at once or not at all,
/// and the rates at a point are exactly what serving at its threshold gives on these items. Scores are clamped to
/// [−1, 1]; −∞ stands for an item the filter cannot score (unknown, or an empty profile) and is never rejected, as the
/// service fails open. A rate with an empty denominator is 0.
/// </summary>
public sealed class OperatingCurve
{
    public IReadOnlyList<OperatingPoint> Points { get; }
    public int Disliked { get; }
    public int Liked { get; }

    private OperatingCurve(IReadOnlyList<OperatingPoint> points, int disliked, int liked)
    {
        Points = points;
        Disliked = disliked;
        Liked = liked;
    }

    public static float Clamp(float score) => float.IsNegativeInfinity(score) ? score : Math.Clamp(score, -1f, 1f);

    public static OperatingCurve Build(IEnumerable<(float Score, bool Disliked)> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var sorted = samples.Where(s => !float.IsNaN(s.Score)).Select(s => (Score: Clamp(s.Score), s.Disliked))
                            .OrderByDescending(s => s.Score).ToArray();
        int disliked = sorted.Count(s => s.Disliked), liked = sorted.Length - disliked;
        var points = new List<OperatingPoint>();
        int k = 0, rejDisliked = 0, rejLiked = 0;
        // One point per distinct finite score s (rejecting the groups above s), in descending order.
        while (k < sorted.Length && float.IsFinite(sorted[k].Score))
        {
            float v = sorted[k].Score;
            points.Add(Point(v, rejDisliked, rejLiked, disliked, liked));
            while (k < sorted.Length && sorted[k].Score == v)
            {
                if (sorted[k].Disliked) rejDisliked++; else rejLiked++;
                k++;
            }
        }
        // Then −1, which rejects every finite score above it (a group at exactly −1 was already its own last point).
        if (points.Count == 0 || points[^1].Threshold > -1f) points.Add(Point(-1f, rejDisliked, rejLiked, disliked, liked));
        return new OperatingCurve(points, disliked, liked);
    }

    private static OperatingPoint Point(float threshold, int rejDisliked, int rejLiked, int disliked, int liked)
    {
        int rejected = rejDisliked + rejLiked;
        return new OperatingPoint(threshold, Rate(rejDisliked, disliked), Rate(rejLiked, liked), rejected == 0 ? null : (double)rejDisliked / rejected);
    }

    /// <summary>
    /// The point rejecting the most disliked items while rejecting at most <paramref name="maxLikedRate"/> of liked ones;
    /// ties go to the lower liked rate, then the higher threshold. Null only for an empty curve.
    /// </summary>
    public OperatingPoint? PointAtLikedRate(double maxLikedRate = 0.05) =>
        Points.Where(p => p.LikedRejectRate <= maxLikedRate + 1e-12)
              .OrderByDescending(p => p.DislikedRejectRate).ThenBy(p => p.LikedRejectRate).ThenByDescending(p => p.Threshold)
              .FirstOrDefault();

    /// <summary>
    /// The rates of serving at threshold <paramref name="threshold"/> (rejecting scores strictly above it): those of the
    /// first point, from the top, whose threshold is at or below it, since it rejects exactly the same score groups.
    /// </summary>
    public OperatingPoint At(double threshold)
    {
        foreach (var p in Points)
            if (p.Threshold <= threshold) return p;
        return Points[^1];
    }

    /// <summary>At most <paramref name="max"/> points for reports and plots, evenly spaced, always keeping the first, the last and <paramref name="keep"/>.</summary>
    public IReadOnlyList<OperatingPoint> Thin(int max, params OperatingPoint?[] keep)
    {
        if (Points.Count <= max) return Points;
        var indices = new SortedSet<int>();
        for (int i = 0; i < max; i++) indices.Add((int)((long)i * (Points.Count - 1) / (max - 1)));
        foreach (var p in keep) if (p is not null && Points.IndexOf(p) is >= 0 and var j) indices.Add(j);
        return [.. indices.Select(i => Points[i])];
    }

    private static double Rate(int hits, int total) => total == 0 ? 0 : (double)hits / total;
}

file static class ListExtensions
{
    public static int IndexOf<T>(this IReadOnlyList<T> list, T value) where T : class
    {
        for (int i = 0; i < list.Count; i++) if (ReferenceEquals(list[i], value)) return i;
        return -1;
    }
}
