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
/// <item>Candidate Acc: the first future negative plus distractors (see <see cref="Candidates"/>), each scored by the
/// serving rule (<see cref="ProfileScoring"/>) against the method's profile; credit 1 when the target scores strictly
/// highest, 1/t when it ties with t − 1 others for the top (an empty profile ties everything: chance level), else 0.</item>
/// </list>
/// For a profile method the hit set is its whole negative side (predicted ∪ recent negatives); a rule has no hit rates.
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

    /// <summary>A generator's predictions on the split's test cases (the common case, kept short for tests and baselines).</summary>
    public MethodResult Evaluate(string method, TemporalSplit split, Func<EvalCase, IReadOnlyList<ulong>> predict) =>
        Evaluate(EvalMethod.Generator(method, predict), split.Cases, split);

    /// <summary>
    /// Scores one method on <paramref name="cases"/> (test or validation cases of <paramref name="split"/>). Every future item
    /// and every Candidate Acc candidate of a case is scored in one call of the serving rule, so a score never depends on
    /// which other items were scored with it.
    /// </summary>
    public MethodResult Evaluate(EvalMethod method, IReadOnlyList<EvalCase> cases, TemporalSplit split)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(split);
        if (method.Kind == MethodKind.Rule ? method.Blocks is null : method.Profile is null)
            throw new ArgumentException($"method '{method.Name}' of kind {method.Kind} has no {(method.Kind == MethodKind.Rule ? "rule" : "profile")}", nameof(method));
        int hr = 0, fhr = 0, luf = 0, lufCases = 0, lif = 0, lifCases = 0;
        double candidateCredit = 0;
        var outcomes = new CaseOutcome[cases.Count];
        var items = new List<ScoredItem>();
        var scratch = new CaseScratch();

        for (int ci = 0; ci < cases.Count; ci++)
        {
            var c = cases[ci];
            var candidates = Candidates(c, split);
            // Items of the case: future negatives, future positives, then the Candidate Acc candidates.
            var asked = new List<string>(c.FutureNegatives.Count + c.FuturePositives.Count + candidates.Count);
            asked.AddRange(c.FutureNegatives);
            asked.AddRange(c.FuturePositives);
            asked.AddRange(candidates);
            float[] scores;
            HashSet<ulong>? set = null;
            if (method.Kind == MethodKind.Rule)
            {
                var blocks = method.Blocks!(c);
                scores = [.. asked.Select(i => blocks(i) ? 1f : 0f)];
            }
            else
            {
                var profile = method.Profile!(c) ?? throw new InvalidOperationException($"method '{method.Name}' returned no profile for user '{c.UserId}' at {c.At:O}");
                set = NegativeSide(method.Name, c, profile, out var negatives, out int predicted, out int recent);
                var positives = Validated(method.Name, c, profile.RecentPositives ?? []);
                scores = Score(asked, negatives, predicted, recent, positives, method.Rule, scratch);
            }

            int k = 0;
            for (int j = 0; j < c.FutureNegatives.Count; j++) items.Add(new ScoredItem(ci, scores[k++], true));
            for (int j = 0; j < c.FuturePositives.Count; j++) items.Add(new ScoredItem(ci, scores[k++], false));
            double credit = candidates.Count == 0 ? 0 : Credit(scores.AsSpan(k, candidates.Count));
            candidateCredit += credit;

            bool longTailUser = c.PastNegatives < Options.LongTailUserNegatives;
            var longTail = c.FutureNegatives.Where(i => split.ItemNegativesBefore(i, c.At) < Options.LongTailItemNegatives).ToList();
            bool hrHit = false, anyHit = false, lifHit = false;
            if (set is not null)
            {
                bool Hit(string item) => _catalog.TryGetValue(item, out var sid) && set.Contains(sid);
                hrHit = Hit(c.FutureNegatives[0]);
                anyHit = c.FutureNegatives.Any(Hit);
                lifHit = longTail.Any(Hit);
                if (hrHit) hr++;
                if (anyHit) fhr++;
                if (longTailUser) { lufCases++; if (anyHit) luf++; }
                if (longTail.Count > 0) { lifCases++; if (lifHit) lif++; }
            }
            outcomes[ci] = new CaseOutcome(hrHit, anyHit, longTailUser, longTail.Count > 0, lifHit, credit, set?.Count ?? 0);
        }

        int n = cases.Count;
        bool hits = method.Kind != MethodKind.Rule;
        var metrics = new MethodMetrics(method.Name, hits ? Rate(hr, n) : null, hits ? Rate(fhr, n) : null, hits ? Rate(luf, lufCases) : null,
            hits ? Rate(lif, lifCases) : null, n == 0 ? null : candidateCredit / n, n, hits ? lufCases : 0, hits ? lifCases : 0);
        return new MethodResult(metrics, OperatingCurve.Build(items.Select(i => (i.Score, i.Disliked))))
        {
            Kind = method.Kind, Outcomes = outcomes, Items = items, Detail = method.Detail,
        };
    }

    /// <summary>The negative side [first K predicted | recent negatives] (validated) and its distinct SIDs, the hit set.</summary>
    private HashSet<ulong> NegativeSide(string method, EvalCase c, CaseProfile profile, out ulong[] negatives, out int predicted, out int recent)
    {
        var p = Validated(method, c, profile.Predicted.Take(Options.K).ToList());
        var r = Validated(method, c, profile.RecentNegatives ?? []);
        negatives = [.. p, .. r];
        predicted = p.Count;
        recent = r.Count;
        return [.. negatives];
    }

    private List<ulong> Validated(string method, EvalCase c, IReadOnlyList<ulong> sids)
    {
        foreach (var sid in sids)
        {
            if (!_codebook.Layout.IsValidPacked(sid))
                throw new InvalidOperationException($"method '{method}' gave SID 0x{sid:x} for user '{c.UserId}', not valid for {_codebook.Levels} levels x {_codebook.CodesPerLevel} codes");
        }
        return sids as List<ulong> ?? [.. sids];
    }

    /// <summary>Buffers reused across cases: one evaluation allocates per case only what the case needs beyond them.</summary>
    private sealed class CaseScratch
    {
        public float[] Rows = [];
        public float[] Negatives = [];
        public float[] Positives = [];
        public ulong[] Sids = [];
        public int[] Map = [];

        public static T[] Grow<T>(ref T[] a, int n) => a.Length >= n ? a : a = new T[Math.Max(n, a.Length * 2)];
    }

    /// <summary>
    /// The serving rule's score of each asked item (−∞ when the item has no SID or the negative side is empty, as the
    /// service fails open): the same <see cref="ProfileScoring"/> call FilterCandidates and tune make.
    /// </summary>
    private float[] Score(List<string> asked, ulong[] negatives, int predicted, int recent, List<ulong> positives, ProfileRule rule, CaseScratch s)
    {
        int d = _codebook.Dimension;
        var scores = new float[asked.Count];
        Array.Fill(scores, float.NegativeInfinity);
        if (negatives.Length == 0) return scores;
        var map = CaseScratch.Grow(ref s.Map, asked.Count);
        var sids = CaseScratch.Grow(ref s.Sids, asked.Count);
        int known = 0;
        for (int i = 0; i < asked.Count; i++)
        {
            if (!_catalog.TryGetValue(asked[i], out var sid)) continue;
            map[known] = i;
            sids[known++] = sid;
        }
        if (known == 0) return scores;
        var rows = CaseScratch.Grow(ref s.Rows, known * d);
        for (int i = 0; i < known; i++) _codebook.Reconstruct(sids[i], rows.AsSpan(i * d, d));
        var neg = CaseScratch.Grow(ref s.Negatives, negatives.Length * d);
        for (int j = 0; j < negatives.Length; j++) _codebook.Reconstruct(negatives[j], neg.AsSpan(j * d, d));
        var pos = CaseScratch.Grow(ref s.Positives, Math.Max(1, positives.Count) * d);
        for (int j = 0; j < positives.Count; j++) _codebook.Reconstruct(positives[j], pos.AsSpan(j * d, d));
        var profile = new ProfileRows
        {
            NegativeRows = neg.AsSpan(0, negatives.Length * d), NegativeSids = negatives, Predicted = predicted, RecentNegatives = recent,
            PositiveRows = pos.AsSpan(0, positives.Count * d), PositiveSids = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(positives),
        };
        var score = new float[known];
        ProfileScoring.Score(rows.AsSpan(0, known * d), sids.AsSpan(0, known), d, profile, rule, score, new int[known], new MatchSource[known],
            new float[known], new float[known], new int[known]);
        for (int i = 0; i < known; i++) scores[map[i]] = score[i];
        return scores;
    }

    /// <summary>Candidate Acc credit: 1 for a strict win of the target (first), 1/t for a t-way tie at the top, else 0.</summary>
    private static double Credit(ReadOnlySpan<float> scores)
    {
        float target = scores[0];
        int ties = 1;
        for (int k = 1; k < scores.Length; k++)
        {
            if (scores[k] > target) return 0;
            if (scores[k] == target) ties++;
        }
        return 1.0 / ties;
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
        var end = c.End;
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
