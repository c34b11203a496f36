namespace CoNRec.Offline.Evaluation;

/// <summary>A point estimate with its 95% percentile bootstrap interval; all null when the statistic is undefined (no cases).</summary>
public readonly record struct Interval(double? Estimate, double? Lower, double? Upper)
{
    public static readonly Interval None = new(null, null, null);

    /// <summary>True when the interval lies entirely above (or below) 0: the difference is not explained by resampling noise.</summary>
    public bool ExcludesZero => Lower is { } l && Upper is { } u && (l > 0 || u < 0);
}

/// <summary>The per-metric statistics the bootstrap resamples.</summary>
public enum Metric { HR, FHR, LUF, LIF, CandidateAcc, DislikedAtLikedBudget }

/// <summary>
/// A seeded bootstrap over users: each resample draws the test users with replacement (a case counts as many times as
/// its user was drawn, so a user's cases move together), then every statistic is recomputed with those weights. The
/// interval is the 2.5th–97.5th percentile of the resampled values; a paired difference uses the same resamples for
/// both methods, which is what makes it sharper than comparing two intervals.
/// </summary>
public sealed class Bootstrap
{
    private readonly int[] _caseUser;
    private readonly int[][] _draws; // per resample: how often each user was drawn
    private readonly int[]?[] _caseWeights;
    private readonly Dictionary<MethodResult, Sorted> _sorted = new(ReferenceEqualityComparer.Instance);

    public int Resamples { get; }
    public int Seed { get; }
    public int Users { get; }
    public int Cases => _caseUser.Length;
    public double LikedBudget { get; }

    public Bootstrap(IReadOnlyList<EvalCase> cases, int resamples = 1000, int seed = 7, double likedBudget = 0.05)
    {
        ArgumentNullException.ThrowIfNull(cases);
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), resamples, "resamples must be ≥ 1");
        Resamples = resamples;
        Seed = seed;
        LikedBudget = likedBudget;
        var users = new Dictionary<string, int>(StringComparer.Ordinal);
        _caseUser = new int[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            if (!users.TryGetValue(cases[i].UserId, out int u)) users[cases[i].UserId] = u = users.Count;
            _caseUser[i] = u;
        }
        Users = users.Count;
        var rng = new Random(seed);
        _draws = new int[resamples][];
        _caseWeights = new int[resamples][];
        for (int r = 0; r < resamples; r++)
        {
            var counts = new int[Users];
            for (int k = 0; k < Users; k++) counts[rng.Next(Users)]++;
            _draws[r] = counts;
        }
    }

    /// <summary>A metric of one method with its interval.</summary>
    public Interval Of(MethodResult result, Metric metric) => Of(w => Value(result, metric, w));

    /// <summary>The paired difference a − b of one metric, with its interval.</summary>
    public Interval Difference(MethodResult a, MethodResult b, Metric metric) =>
        Of(w => Value(a, metric, w) is { } x && Value(b, metric, w) is { } y ? x - y : null);

    /// <summary>Disliked and liked rejection rates when serving at a fixed threshold (chosen elsewhere, e.g. on validation).</summary>
    public (Interval Disliked, Interval Liked) AtThreshold(MethodResult result, double threshold) =>
        (Of(w => RatesAt(result, threshold, w).Disliked), Of(w => RatesAt(result, threshold, w).Liked));

    /// <summary>
    /// The operating curve as a band: for each liked-rejection budget on <paramref name="grid"/>, the most disliked items
    /// rejected within it (estimate, 2.5th and 97.5th percentiles).
    /// </summary>
    public IReadOnlyList<(double Liked, Interval Disliked)> Band(MethodResult result, IReadOnlyList<double> grid)
    {
        var point = CurveAt(result, grid, null);
        var values = new double[grid.Count][];
        for (int g = 0; g < grid.Count; g++) values[g] = new double[Resamples];
        for (int r = 0; r < Resamples; r++)
        {
            var w = CaseWeights(r);
            var v = CurveAt(result, grid, w);
            for (int g = 0; g < grid.Count; g++) values[g][r] = v[g];
        }
        return [.. grid.Select((x, g) => (x, new Interval(point[g], Percentile(values[g], 0.025), Percentile(values[g], 0.975))))];
    }

    private Interval Of(Func<int[]?, double?> statistic)
    {
        var estimate = statistic(null);
        if (estimate is null) return Interval.None;
        var values = new List<double>(Resamples);
        for (int r = 0; r < Resamples; r++)
            if (statistic(CaseWeights(r)) is { } v) values.Add(v);
        if (values.Count == 0) return new Interval(estimate, null, null);
        var sorted = values.ToArray();
        return new Interval(estimate, Percentile(sorted, 0.025), Percentile(sorted, 0.975));
    }

    private int[] CaseWeights(int r)
    {
        if (_caseWeights[r] is { } cached) return cached;
        var draws = _draws[r];
        var w = new int[_caseUser.Length];
        for (int i = 0; i < w.Length; i++) w[i] = draws[_caseUser[i]];
        return _caseWeights[r] = w;
    }

    /// <summary>Linear-interpolated percentile of the values (sorts in place).</summary>
    public static double Percentile(double[] values, double q)
    {
        Array.Sort(values);
        double pos = q * (values.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return values[lo] + ((values[hi] - values[lo]) * (pos - lo));
    }

    /// <summary>A metric under case weights (null weights: every case once). Null when undefined (no eligible case).</summary>
    public double? Value(MethodResult result, Metric metric, int[]? w)
    {
        if (result.Outcomes.Count != _caseUser.Length)
            throw new ArgumentException($"'{result.Metrics.Method}' has {result.Outcomes.Count} case outcomes; the bootstrap has {_caseUser.Length} cases", nameof(result));
        if (metric == Metric.DislikedAtLikedBudget) return DislikedAtBudget(result, LikedBudget, w);
        if (result.Kind == MethodKind.Rule && metric != Metric.CandidateAcc) return null;
        double num = 0, den = 0;
        for (int i = 0; i < _caseUser.Length; i++)
        {
            double weight = w?[i] ?? 1;
            if (weight == 0) continue;
            var o = result.Outcomes[i];
            switch (metric)
            {
                case Metric.HR: den += weight; if (o.Hr) num += weight; break;
                case Metric.FHR: den += weight; if (o.Fhr) num += weight; break;
                case Metric.LUF: if (o.LongTailUser) { den += weight; if (o.Fhr) num += weight; } break;
                case Metric.LIF: if (o.LongTailCase) { den += weight; if (o.LifHit) num += weight; } break;
                case Metric.CandidateAcc: den += weight; num += weight * o.CandidateCredit; break;
            }
        }
        return den == 0 ? null : num / den;
    }

    /// <summary>Items sorted by score (highest first), with group ends, computed once per method.</summary>
    private sealed record Sorted(float[] Scores, bool[] Disliked, int[] Case);

    private Sorted SortedOf(MethodResult result)
    {
        if (_sorted.TryGetValue(result, out var s)) return s;
        var items = result.Items.Select(i => (Score: OperatingCurve.Clamp(i.Score), i.Disliked, i.Case)).Where(i => !float.IsNaN(i.Score))
                          .OrderByDescending(i => i.Score).ToArray();
        s = new Sorted([.. items.Select(i => i.Score)], [.. items.Select(i => i.Disliked)], [.. items.Select(i => i.Case)]);
        _sorted[result] = s;
        return s;
    }

    /// <summary>The most disliked items rejected with at most <paramref name="budget"/> of liked ones, ties as one step (as <see cref="OperatingCurve"/>).</summary>
    private double? DislikedAtBudget(MethodResult result, double budget, int[]? w) => CurveAt(result, [budget], w)[0];

    private double[] CurveAt(MethodResult result, IReadOnlyList<double> budgets, int[]? w)
    {
        var s = SortedOf(result);
        double disliked = 0, liked = 0;
        for (int k = 0; k < s.Scores.Length; k++)
        {
            double weight = w?[s.Case[k]] ?? 1;
            if (s.Disliked[k]) disliked += weight; else liked += weight;
        }
        var best = new double[budgets.Count];
        double rejDisliked = 0, rejLiked = 0;
        int i = 0;
        while (true)
        {
            // The state "every group above here rejected" is a point of the curve.
            double likedRate = liked == 0 ? 0 : rejLiked / liked, dislikedRate = disliked == 0 ? 0 : rejDisliked / disliked;
            for (int g = 0; g < budgets.Count; g++)
                if (likedRate <= budgets[g] + 1e-12 && dislikedRate > best[g]) best[g] = dislikedRate;
            if (i >= s.Scores.Length || !float.IsFinite(s.Scores[i]) || s.Scores[i] <= -1f) break;
            float v = s.Scores[i];
            while (i < s.Scores.Length && s.Scores[i] == v)
            {
                double weight = w?[s.Case[i]] ?? 1;
                if (s.Disliked[i]) rejDisliked += weight; else rejLiked += weight;
                i++;
            }
        }
        return best;
    }

    private (double? Disliked, double? Liked) RatesAt(MethodResult result, double threshold, int[]? w)
    {
        var s = SortedOf(result);
        double disliked = 0, liked = 0, rejDisliked = 0, rejLiked = 0;
        for (int k = 0; k < s.Scores.Length; k++)
        {
            double weight = w?[s.Case[k]] ?? 1;
            bool rejected = s.Scores[k] > threshold;
            if (s.Disliked[k]) { disliked += weight; if (rejected) rejDisliked += weight; }
            else { liked += weight; if (rejected) rejLiked += weight; }
        }
        return (disliked == 0 ? null : rejDisliked / disliked, liked == 0 ? null : rejLiked / liked);
    }
}
