using CoNRec.Core;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

/// <summary>
/// Items (categories): a {horror}, b {horror, comedy}, c {comedy}, d {drama}, e {drama}, g {news}; SIDs a0 b1 c2 d3 e4 g5.
/// Train (≤ day 12) negatives: u1 a@1 c@2; u2 a@1 d@2; u3 a@3 b@4 → counts a 3, b 1, c 1, d 1 → ranked a, b, c, d.
/// Cases at day 12: u1 (blocked {horror, comedy}): future neg b@13 d@14, pos e@15 g@15;
///                  u2 (blocked {horror, drama}):  future neg e@13, pos b@14 g@15. (u3 has no future negative.)
/// </summary>
public class BaselinesTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static DateTimeOffset Day(double d) => T0.AddDays(d);

    private static readonly Dictionary<string, ulong> Catalog = new() { ["a"] = 0, ["b"] = 1, ["c"] = 2, ["d"] = 3, ["e"] = 4, ["g"] = 5 };

    private static InteractionDataset Dataset()
    {
        ItemFeatures Item(string id, params string[] cats) => new(id, id, cats, new Dictionary<string, double>());
        return InteractionDataset.Create("base",
            [Item("a", "horror"), Item("b", "horror", "comedy"), Item("c", "comedy"), Item("d", "drama"), Item("e", "drama"), Item("g", "news")],
            [
                new("u1", "a", Day(1), FeedbackKind.Negative), new("u1", "c", Day(2), FeedbackKind.Negative),
                new("u2", "a", Day(1), FeedbackKind.Negative), new("u2", "d", Day(2), FeedbackKind.Negative),
                new("u3", "a", Day(3), FeedbackKind.Negative), new("u3", "b", Day(4), FeedbackKind.Negative),
                new("u1", "b", Day(13), FeedbackKind.Negative), new("u1", "d", Day(14), FeedbackKind.Negative),
                new("u1", "e", Day(15), FeedbackKind.Click), new("u1", "g", Day(15), FeedbackKind.Favorite),
                new("u2", "e", Day(13), FeedbackKind.Negative), new("u2", "b", Day(14), FeedbackKind.Click),
                new("u2", "g", Day(15), FeedbackKind.Click),
                new("u3", "g", Day(40), FeedbackKind.Click),
            ]);
    }

    private static (Baselines B, TemporalSplit S) Make(int k)
    {
        var ds = Dataset();
        var split = TemporalSplit.Create(ds, new SplitOptions());
        Assert.Equal(["u1", "u2"], split.Cases.Select(c => c.UserId));
        return (new Baselines(ds, split, Catalog, k), split);
    }

    [Fact]
    public void Past_negatives_are_most_recent_first()
    {
        var (b, s) = Make(2);
        Assert.Equal([2ul, 0ul], b.PastNegatives(s.Cases[0]));   // c@2, a@1
        Assert.Equal([3ul, 0ul], b.PastNegatives(s.Cases[1]));   // d@2, a@1
        Assert.Equal([2ul], new Baselines(Dataset(), s, Catalog, 1).PastNegatives(s.Cases[0]));
    }

    [Fact]
    public void Category_block_takes_the_most_disliked_items_inside_the_users_categories()
    {
        var (b, s) = Make(3);
        Assert.Equal([0ul, 1ul, 2ul], b.CategoryBlock(s.Cases[0]));   // a, b, c (d is drama)
        Assert.Equal([0ul, 1ul, 3ul], b.CategoryBlock(s.Cases[1]));   // a, b, d (c is comedy only)
    }

    [Fact]
    public void Global_top_disliked_is_the_train_ranking()
    {
        var (b, s) = Make(3);
        Assert.Equal([0ul, 1ul, 2ul], b.GlobalTopDisliked(s.Cases[0]));
        Assert.Equal(b.GlobalTopDisliked(s.Cases[0]), b.GlobalTopDisliked(s.Cases[1]));
    }

    [Fact]
    public void Category_rule_point_counts_shared_categories()
    {
        // disliked: u1 b (horror) yes, d (drama) no; u2 e (drama) yes → 2/3
        // liked: u1 e no, g no; u2 b (horror) yes, g no → 1/4; precision 2/3
        var (b, _) = Make(2);
        var p = b.CategoryRulePoint();
        Assert.Equal((3, 4), (p.Disliked, p.Liked));
        Assert.Equal(2.0 / 3, p.DislikedRejectRate, 9);
        Assert.Equal(0.25, p.LikedRejectRate, 9);
        Assert.Equal(2.0 / 3, p.Precision!.Value, 9);
    }

    [Fact]
    public void All_baselines_run_through_the_evaluator()
    {
        // K = 2. PastNegatives: u1 {2,0} vs b1 d3 → miss; u2 {3,0} vs e4 → miss → FHR 0.
        // CategoryBlock and GlobalTop: {0,1} for both: u1 b hit, u2 e miss → FHR 1/2, HR 1/2 (b is u1's first).
        var (b, s) = Make(2);
        var cb = Codebook.Create(1, 6, 2, [1, 0, 0, 1, 1, 1, -1, 0, 0, -1, 1, -1]);
        var results = b.EvaluateAll(new Evaluator(cb, Catalog, new EvalOptions { K = 2 }));
        Assert.Equal([Baselines.PastNegativesName, Baselines.CategoryBlockName, Baselines.GlobalTopDislikedName], results.Select(r => r.Metrics.Method));
        Assert.Equal([0.0, 0.5, 0.5], results.Select(r => r.Metrics.FHR!.Value));
        Assert.Equal([0.0, 0.5, 0.5], results.Select(r => r.Metrics.HR!.Value));
    }
}
