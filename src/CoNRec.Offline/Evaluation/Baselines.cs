using CoNRec.Core;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// The protocol's baselines, measured in the same run as the model. Each maps items to SIDs through the catalog
/// (items without a SID are skipped) and returns at most K distinct SIDs.
/// <list type="bullet">
/// <item><see cref="PastNegatives"/>: the user's own most recent distinct past negatives.</item>
/// <item><see cref="CategoryBlock"/>: the rule "block every category the user ever disliked". As a predicted set: the
/// K items most disliked in train that share a category with one of the user's past negatives. As a filter it is
/// binary: <see cref="CategoryRulePoint"/>.</item>
/// <item><see cref="GlobalTopDisliked"/>: the K items with the most negatives in train, the same for everyone.</item>
/// <item><see cref="ExactItemBlockName"/>: the status quo the paper describes, as a rule: block exactly the items the user
/// disliked before (by item, not SID).</item>
/// </list>
/// Train counts rank ties by ordinal item id.
/// </summary>
public sealed class Baselines
{
    public const string PastNegativesName = "PastNegatives";
    public const string CategoryBlockName = "CategoryBlock";
    public const string GlobalTopDislikedName = "GlobalTopDisliked";
    public const string CategoryRuleName = "CategoryRule";
    public const string ExactItemBlockName = "ExactItemBlock";

    private readonly InteractionDataset _dataset;
    private readonly TemporalSplit _split;
    private readonly IReadOnlyDictionary<string, ulong> _catalog;
    private readonly string[] _rankedByTrainNegatives;
    private readonly IReadOnlyList<ulong> _globalTop;

    public int K { get; }

    public Baselines(InteractionDataset dataset, TemporalSplit split, IReadOnlyDictionary<string, ulong> catalog, int k)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(split);
        ArgumentNullException.ThrowIfNull(catalog);
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be ≥ 1");
        _dataset = dataset;
        _split = split;
        _catalog = catalog;
        K = k;
        _rankedByTrainNegatives = split.Train.Where(x => x.IsNegative).GroupBy(x => x.ItemId, StringComparer.Ordinal)
            .Select(g => (Item: g.Key, Count: g.Count()))
            .OrderByDescending(x => x.Count).ThenBy(x => x.Item, StringComparer.Ordinal)
            .Select(x => x.Item).ToArray();
        _globalTop = TopSids(_rankedByTrainNegatives);
    }

    /// <summary>The user's most recent distinct past negatives: the profile's recent-negatives part with N = K.</summary>
    public IReadOnlyList<ulong> PastNegatives(EvalCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return RecentSids.Take(NegativesNewestFirst(c), _catalog, Math.Min(K, SidSetCodec.MaxCount));
    }

    /// <summary>The items of a case's history with negative (or positive) feedback, newest first.</summary>
    public static IEnumerable<string> NegativesNewestFirst(EvalCase c) => NewestFirst(c, negative: true);

    public static IEnumerable<string> PositivesNewestFirst(EvalCase c) => NewestFirst(c, negative: false);

    private static IEnumerable<string> NewestFirst(EvalCase c, bool negative)
    {
        for (int k = c.History.Count - 1; k >= 0; k--)
            if (negative ? c.History[k].IsNegative : c.History[k].IsPositive) yield return c.History[k].ItemId;
    }

    /// <summary>Status quo: per case, block exactly the items the user gave negative feedback before the case starts.</summary>
    public static Func<string, bool> ExactItemBlock(EvalCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var disliked = NegativesNewestFirst(c).ToHashSet(StringComparer.Ordinal);
        return disliked.Contains;
    }

    /// <summary>The category rule per case: block every item sharing a category with one of the user's past negatives.</summary>
    public Func<string, bool> CategoryRule(EvalCase c)
    {
        var blocked = DislikedCategories(c);
        return item => SharesCategory(item, blocked);
    }

    /// <summary>Every baseline as an evaluation method: three predicted sets and two binary rules.</summary>
    public IReadOnlyList<EvalMethod> Methods() =>
    [
        EvalMethod.Generator(PastNegativesName, PastNegatives) with { Detail = $"the user's {K} most recent past negatives" },
        EvalMethod.Generator(CategoryBlockName, CategoryBlock) with { Detail = $"the {K} most-disliked items in the user's disliked categories" },
        EvalMethod.Generator(GlobalTopDislikedName, GlobalTopDisliked) with { Detail = $"the {K} most-disliked items overall" },
        EvalMethod.BinaryRule(CategoryRuleName, CategoryRule) with { Detail = "block every category the user ever disliked" },
        EvalMethod.BinaryRule(ExactItemBlockName, ExactItemBlock) with { Detail = "block exactly the items the user disliked before" },
    ];

    public IReadOnlyList<ulong> CategoryBlock(EvalCase c)
    {
        var blocked = DislikedCategories(c);
        return TopSids(_rankedByTrainNegatives.Where(item => SharesCategory(item, blocked)));
    }

    public IReadOnlyList<ulong> GlobalTopDisliked(EvalCase c) => _globalTop;

    /// <summary>
    /// The category rule as a filter over every case's future items: an item is rejected iff it shares a category with
    /// any of the user's past negatives. It needs no SID, so items missing from the catalog count here too.
    /// </summary>
    public RulePoint CategoryRulePoint()
    {
        int disliked = 0, liked = 0, rejDisliked = 0, rejLiked = 0;
        foreach (var c in _split.Cases)
        {
            var blocked = DislikedCategories(c);
            foreach (var item in c.FutureNegatives)
            {
                disliked++;
                if (SharesCategory(item, blocked)) rejDisliked++;
            }
            foreach (var item in c.FuturePositives)
            {
                liked++;
                if (SharesCategory(item, blocked)) rejLiked++;
            }
        }
        int rejected = rejDisliked + rejLiked;
        return new RulePoint("category rule", disliked == 0 ? 0 : (double)rejDisliked / disliked, liked == 0 ? 0 : (double)rejLiked / liked,
                             rejected == 0 ? null : (double)rejDisliked / rejected, disliked, liked);
    }

    /// <summary>Runs the three baselines through <paramref name="evaluator"/> on this split.</summary>
    public IReadOnlyList<MethodResult> EvaluateAll(Evaluator evaluator)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        return
        [
            evaluator.Evaluate(PastNegativesName, _split, PastNegatives),
            evaluator.Evaluate(CategoryBlockName, _split, CategoryBlock),
            evaluator.Evaluate(GlobalTopDislikedName, _split, GlobalTopDisliked),
        ];
    }

    private HashSet<string> DislikedCategories(EvalCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var x in c.History)
            if (x.IsNegative && _dataset.ItemsById.TryGetValue(x.ItemId, out var f)) set.UnionWith(f.Categories);
        return set;
    }

    private bool SharesCategory(string item, HashSet<string> blocked) =>
        blocked.Count > 0 && _dataset.ItemsById.TryGetValue(item, out var f) && f.Categories.Any(blocked.Contains);

    private List<ulong> TopSids(IEnumerable<string> items)
    {
        var sids = new List<ulong>(K);
        foreach (var item in items)
        {
            if (sids.Count == K) break;
            if (_catalog.TryGetValue(item, out var sid) && !sids.Contains(sid)) sids.Add(sid);
        }
        return sids;
    }
}
