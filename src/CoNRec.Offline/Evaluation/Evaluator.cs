using CoNRec.Core;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// Scores a method's predicted SIDs against the split's cases (paper "Evaluation Metrics"). A hit means the SID of a
/// ground-truth item is exactly one of the first K predicted SIDs. Items missing from the catalog have no SID and
/// count as misses (they stay in every denominator).
/// <list type="bullet">
/// <item>HR@K: the first future negative is hit.</item>
/// <item>FHR@K: any future negative (in the 7-day window) is hit.</item>
/// <item>LUF@K: FHR@K over cases whose user has fewer than <see cref="EvalOptions.LongTailUserNegatives"/> past negatives.</item>
/// <item>LIF@K: over cases with at least one long-tail future negative (fewer than
/// <see cref="EvalOptions.LongTailItemNegatives"/> negatives by anyone at or before the case start); a hit needs a
/// long-tail item's SID in the set (the paper's "FHR@20 measured on long-tail items", read per case).</item>
/// <item>Candidate Acc: the first future negative plus distractors (see <see cref="Candidates"/>), each scored by its max
/// cosine to the predicted set through the codebook; credit 1 when the target scores strictly highest, 1/t when it ties
/// with t − 1 others for the top (an empty predicted set ties everything: chance level), else 0.</item>
/// </list>
/// </summary>
public sealed class Evaluator
{
    private readonly Codebook _codebook;
    private readonly IReadOnlyDictionary<string, ulong> _catalog;
    private readonly string[] _catalogItems;

    public EvalOptions Options { get; }

    public Evaluator(Codebook codebook, IReadOnlyDictionary<string, ulong> catalog, EvalOptions options)
    {
        ArgumentNullException.ThrowIfNull(codebook);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        foreach (var (item, sid) in catalog)
        {
            if (!codebook.Layout.IsValidPacked(sid))
                throw new ArgumentException($"catalog item '{item}' has SID 0x{sid:x}, not valid for {codebook.Levels} levels x {codebook.CodesPerLevel} codes", nameof(catalog));
        }
        _codebook = codebook;
        _catalog = catalog;
        _catalogItems = catalog.Keys.Order(StringComparer.Ordinal).ToArray();
        Options = options;
    }

    public MethodResult Evaluate(string method, TemporalSplit split, Func<EvalCase, IReadOnlyList<ulong>> predict)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(predict);
        int d = _codebook.Dimension;
        int hr = 0, fhr = 0, luf = 0, lufCases = 0, lif = 0, lifCases = 0;
        double candidateCredit = 0;
        var samples = new List<(float Score, bool Disliked)>();

        foreach (var c in split.Cases)
        {
            var predicted = predict(c) ?? throw new InvalidOperationException($"method '{method}' returned null for user '{c.UserId}' at {c.At:O}");
            var set = new HashSet<ulong>();
            foreach (var sid in predicted.Take(Options.K))
            {
                if (!_codebook.Layout.IsValidPacked(sid))
                    throw new InvalidOperationException($"method '{method}' predicted SID 0x{sid:x} for user '{c.UserId}', not valid for {_codebook.Levels} levels x {_codebook.CodesPerLevel} codes");
                set.Add(sid);
            }
            var rows = new float[set.Count * d];
            int r = 0;
            foreach (var sid in set) _codebook.Reconstruct(sid, rows.AsSpan(r++ * d, d));

            bool Hit(string item) => _catalog.TryGetValue(item, out var sid) && set.Contains(sid);
            if (Hit(c.FutureNegatives[0])) hr++;
            bool anyHit = c.FutureNegatives.Any(Hit);
            if (anyHit) fhr++;
            if (c.PastNegatives < Options.LongTailUserNegatives)
            {
                lufCases++;
                if (anyHit) luf++;
            }
            var longTail = c.FutureNegatives.Where(i => split.ItemNegativesBefore(i, c.At) < Options.LongTailItemNegatives).ToList();
            if (longTail.Count > 0)
            {
                lifCases++;
                if (longTail.Any(Hit)) lif++;
            }

            candidateCredit += CandidateCredit(c, split, rows);
            foreach (var item in c.FutureNegatives) samples.Add((Score(item, rows), true));
            foreach (var item in c.FuturePositives) samples.Add((Score(item, rows), false));
        }

        int n = split.Cases.Count;
        var metrics = new MethodMetrics(method, Rate(hr, n), Rate(fhr, n), Rate(luf, lufCases), Rate(lif, lifCases), n == 0 ? null : candidateCredit / n,
                                        n, lufCases, lifCases);
        return new MethodResult(metrics, OperatingCurve.Build(samples));
    }

    /// <summary>
    /// The Candidate Acc candidates of a case: the first future negative (the target), then distractors drawn
    /// deterministically from (Seed, user, window start). Distractors come first from the user's exposures (their
    /// non-negative interactions up to the window's end, in a seeded shuffle), then from random catalog items.
    /// Every distractor is in the catalog and is an item the user never gave negative feedback (at any time, so a
    /// later dislike cannot pose as a distractor). A tiny catalog may leave fewer than CandidateCount candidates.
    /// Empty when the target is not in the catalog.
    /// </summary>
    public IReadOnlyList<string> Candidates(EvalCase c, TemporalSplit split)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(split);
        string target = c.FutureNegatives[0];
        if (!_catalog.ContainsKey(target)) return [];
        var all = split.UserInteractions(c.UserId);
        var disliked = all.Where(x => x.IsNegative).Select(x => x.ItemId).ToHashSet(StringComparer.Ordinal);
        var end = c.At + TimeSpan.FromDays(split.Options.WindowDays);
        var chosen = new List<string> { target };
        var taken = new HashSet<string>(StringComparer.Ordinal) { target };
        bool Eligible(string item) => !taken.Contains(item) && !disliked.Contains(item) && _catalog.ContainsKey(item);

        var rng = new Random(CaseSeed(c));
        var exposures = all.Where(x => !x.IsNegative && x.Timestamp <= end).Select(x => x.ItemId)
                           .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Where(Eligible).ToArray();
        rng.Shuffle(exposures);
        foreach (var item in exposures)
        {
            if (chosen.Count == Options.CandidateCount) break;
            chosen.Add(item);
            taken.Add(item);
        }
        // Random top-up: rejection sampling, then one scan from a random offset so small catalogs are exhausted exactly.
        for (int attempt = 0; chosen.Count < Options.CandidateCount && attempt < 20 * Options.CandidateCount; attempt++)
        {
            var item = _catalogItems[rng.Next(_catalogItems.Length)];
            if (Eligible(item)) { chosen.Add(item); taken.Add(item); }
        }
        int offset = _catalogItems.Length == 0 ? 0 : rng.Next(_catalogItems.Length);
        for (int k = 0; k < _catalogItems.Length && chosen.Count < Options.CandidateCount; k++)
        {
            var item = _catalogItems[(offset + k) % _catalogItems.Length];
            if (Eligible(item)) { chosen.Add(item); taken.Add(item); }
        }
        return chosen;
    }

    private double CandidateCredit(EvalCase c, TemporalSplit split, float[] predictedRows)
    {
        var candidates = Candidates(c, split);
        if (candidates.Count == 0) return 0;
        float target = Score(candidates[0], predictedRows);
        int ties = 1;
        for (int k = 1; k < candidates.Count; k++)
        {
            float s = Score(candidates[k], predictedRows);
            if (s > target) return 0;
            if (s == target) ties++;
        }
        return 1.0 / ties;
    }

    /// <summary>Max cosine of an item to the predicted rows; −∞ when the item has no SID or nothing was predicted.</summary>
    private float Score(string item, float[] predictedRows)
    {
        if (predictedRows.Length == 0 || !_catalog.TryGetValue(item, out var sid)) return float.NegativeInfinity;
        int d = _codebook.Dimension;
        var row = new float[d];
        _codebook.Reconstruct(sid, row);
        Span<float> best = stackalloc float[1];
        Span<int> index = stackalloc int[1];
        Similarity.MaxCosine(row, predictedRows, d, best, index);
        return best[0];
    }

    private int CaseSeed(EvalCase c)
    {
        // FNV-1a: string.GetHashCode is randomised per process, and the draw must be reproducible across runs.
        uint h = 2166136261;
        void Mix(uint v) { h ^= v; h *= 16777619; }
        Mix((uint)Options.Seed);
        foreach (char ch in c.UserId) Mix(ch);
        long ticks = c.At.UtcTicks;
        Mix((uint)ticks);
        Mix((uint)(ticks >> 32));
        return (int)h;
    }

    private static double? Rate(int hits, int total) => total == 0 ? null : (double)hits / total;
}
