using CoNRec.Core;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

/// <summary>
/// One window (start day 12, cutoff 12, last day 40), three cases; L = 1, K = 6, d = 2 codebook:
/// SID0 = [1,0], SID1 = [0,1], SID2 = [1,1]/√2, SID3 = [−1,0], SID4 = [0,−1], SID5 = [1,−1]/√2.
/// Catalog: a→0, b→1, c→2, d→3, e→3 (shares d's SID), p→4; x has no SID.
///   u1: past p@1 a@2 b@3 (3 negatives: not a long-tail user), click b@5; future: neg p@13, neg c@14, purchase d@15
///   u2: past a@2 (long-tail user); future: neg x@13, neg a@14, click b@15
///   u3: past a@5 (long-tail user); future: neg d@14, click b@15, click e@15
///   f1..f4: neg p @ days 1..4, so p has 5 negatives by day 12 (not long-tail); a has 3 (u1, u2, u3), c, d, x none.
/// </summary>
public class EvaluatorTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static DateTimeOffset Day(double d) => T0.AddDays(d);
    private static readonly float H = MathF.Sqrt(0.5f);

    internal static readonly Codebook Cb = Codebook.Create(1, 6, 2, [1, 0, 0, 1, H, H, -1, 0, 0, -1, H, -H]);

    internal static readonly Dictionary<string, ulong> Catalog = new()
    {
        ["a"] = 0, ["b"] = 1, ["c"] = 2, ["d"] = 3, ["e"] = 3, ["p"] = 4,
    };

    internal static InteractionDataset Dataset()
    {
        var items = new[] { "a", "b", "c", "d", "e", "p", "x" }.Select(i => new ItemFeatures(i, i, [], new Dictionary<string, double>()));
        var xs = new List<Interaction>
        {
            new("u1", "p", Day(1), FeedbackKind.Negative), new("u1", "a", Day(2), FeedbackKind.Negative),
            new("u1", "b", Day(3), FeedbackKind.Negative), new("u1", "b", Day(5), FeedbackKind.Click),
            new("u1", "p", Day(13), FeedbackKind.Negative), new("u1", "c", Day(14), FeedbackKind.Negative),
            new("u1", "d", Day(15), FeedbackKind.Purchase),
            new("u2", "a", Day(2), FeedbackKind.Negative),
            new("u2", "x", Day(13), FeedbackKind.Negative), new("u2", "a", Day(14), FeedbackKind.Negative),
            new("u2", "b", Day(15), FeedbackKind.Click),
            new("u3", "a", Day(5), FeedbackKind.Negative),
            new("u3", "d", Day(14), FeedbackKind.Negative), new("u3", "b", Day(15), FeedbackKind.Click),
            new("u3", "e", Day(15), FeedbackKind.Click),
            new("f1", "a", Day(40), FeedbackKind.Click),
        };
        for (int f = 1; f <= 4; f++) xs.Add(new($"f{f}", "p", Day(f), FeedbackKind.Negative));
        return InteractionDataset.Create("eval", items, xs);
    }

    internal static TemporalSplit Split() => TemporalSplit.Create(Dataset(), new SplitOptions());

    private static Evaluator Evaluator(int k = 20, int candidates = 3) => new(Cb, Catalog, new EvalOptions { K = k, CandidateCount = candidates });

    private static Func<EvalCase, IReadOnlyList<ulong>> Predict(Dictionary<string, ulong[]> byUser) => c => byUser[c.UserId];

    private static readonly Dictionary<string, ulong[]> Main = new() { ["u1"] = [1, 5], ["u2"] = [0], ["u3"] = [3] };

    [Fact]
    public void Split_has_the_three_intended_cases()
    {
        var split = Split();
        Assert.Equal(["u1", "u2", "u3"], split.Cases.Select(c => c.UserId));
        Assert.All(split.Cases, c => Assert.Equal(Day(12), c.At));
    }

    [Fact]
    public void Hit_rates_and_long_tail_splits_are_hand_computed()
    {
        // HR:  u1 first neg p (SID4) ∉ {1,5}; u2 first neg x has no SID; u3 first neg d (SID3) ∈ {3} → 1/3
        // FHR: u1 p,c ∉ {1,5}; u2 a (SID0) ∈ {0}; u3 d ∈ {3} → 2/3
        // LUF: users with < 3 past negatives: u2 (1), u3 (1) → both hit → 2/2
        // LIF: long-tail future negatives (< 5 negatives by day 12): u1 {c}, u2 {x, a (3)}, u3 {d}: miss, hit, hit → 2/3
        var m = Evaluator().Evaluate("m", Split(), Predict(Main)).Metrics;
        Assert.Equal("m", m.Method);
        Assert.Equal(1.0 / 3, m.HR!.Value, 9);
        Assert.Equal(2.0 / 3, m.FHR!.Value, 9);
        Assert.Equal(1.0, m.LUF!.Value, 9);
        Assert.Equal(2.0 / 3, m.LIF!.Value, 9);
        Assert.Equal((3, 2, 3), (m.Cases, m.LufCases, m.LifCases));
    }

    [Fact]
    public void Only_the_first_K_predictions_count_and_LIF_needs_a_long_tail_item()
    {
        // K = 1: u2 [1, 0] keeps only SID1 → miss. u1 predicts p (SID4): FHR hit, but p is not long-tail → LIF miss.
        var preds = new Dictionary<string, ulong[]> { ["u1"] = [4], ["u2"] = [1, 0], ["u3"] = [2] };
        var m = Evaluator(k: 1).Evaluate("k1", Split(), Predict(preds)).Metrics;
        Assert.Equal(1.0 / 3, m.HR!.Value, 9);   // u1 only
        Assert.Equal(1.0 / 3, m.FHR!.Value, 9);
        Assert.Equal(0.0, m.LUF!.Value, 9);
        Assert.Equal(0.0, m.LIF!.Value, 9);
    }

    [Fact]
    public void Candidates_are_target_then_exposures_then_catalog_items_never_disliked()
    {
        var split = Split();
        var ev = Evaluator();
        // u1: target p; exposures b (disliked on day 3: excluded) and d; top-up from catalog never disliked by u1: only e.
        Assert.Equal(["p", "d", "e"], ev.Candidates(split.Cases[0], split));
        // u2: target x has no SID → no candidates (a miss).
        Assert.Empty(ev.Candidates(split.Cases[1], split));
        // u3: target d; exposures b and e fill the two distractor slots (in a seeded order).
        var u3 = ev.Candidates(split.Cases[2], split);
        Assert.Equal("d", u3[0]);
        Assert.Equal(["b", "e"], u3.Skip(1).Order());
        // 20 candidates asked, u3 can only get d + b, e + c, p (never disliked a, d): the catalog is exhausted exactly.
        var big = new Evaluator(Cb, Catalog, new EvalOptions { CandidateCount = 20 }).Candidates(split.Cases[2], split);
        Assert.Equal(["b", "c", "d", "e", "p"], big.Order());
        // Deterministic for a seed.
        Assert.Equal(big, new Evaluator(Cb, Catalog, new EvalOptions { CandidateCount = 20 }).Candidates(split.Cases[2], split));
    }

    [Fact]
    public void Candidate_accuracy_gives_strict_wins_full_credit_and_ties_shared_credit()
    {
        // u1: predicted {[0,1], [1,-1]/√2}: p=[0,-1] → max(-1, √½) = 0.707; d=[-1,0] → max(0, -0.707) = 0; e (SID3) = 0 → 1
        // u2: target x unknown → 0
        // u3: predicted {SID3}: d → 1, e (same SID) → 1, b → 0: a two-way tie → 1/2
        var m = Evaluator().Evaluate("m", Split(), Predict(Main)).Metrics;
        Assert.Equal((1 + 0 + 0.5) / 3, m.CandidateAcc!.Value, 9);
        // Nothing predicted: all candidates tie → u1 1/3, u2 0, u3 1/3
        var none = new Dictionary<string, ulong[]> { ["u1"] = [], ["u2"] = [], ["u3"] = [] };
        var e = Evaluator().Evaluate("none", Split(), Predict(none)).Metrics;
        Assert.Equal((1.0 / 3 + 0 + 1.0 / 3) / 3, e.CandidateAcc!.Value, 9);
        Assert.Equal(0.0, e.FHR!.Value);
    }

    [Fact]
    public void Operating_curve_scores_future_disliked_and_liked_items()
    {
        // Disliked scores: u1 p 0.707, c 0.707; u2 x −∞ (unknown), a 1 (exact); u3 d 1 (exact)
        // Liked scores: u1 d 0; u2 b 0; u3 b 0, e 1 (e shares d's SID: exact)
        var curve = Evaluator().Evaluate("m", Split(), Predict(Main)).Curve;
        Assert.Equal((5, 4), (curve.Disliked, curve.Liked));
        Assert.Equal(3, curve.Points.Count(p => p.Threshold > -1));
        var at = curve.Points.ToDictionary(p => Math.Round(p.Threshold, 4));
        Assert.Equal((0.0, 0.0), (at[1].DislikedRejectRate, at[1].LikedRejectRate));
        Assert.Null(at[1].Precision);
        // t = 0.7071 rejects the exact group: a, d (disliked) and e (liked)
        Assert.Equal((0.4, 0.25), (at[0.7071].DislikedRejectRate, at[0.7071].LikedRejectRate));
        Assert.Equal((0.8, 0.25, 0.8), (at[0].DislikedRejectRate, at[0].LikedRejectRate, at[0].Precision!.Value));
        Assert.Equal((0.8, 1.0), (at[-1].DislikedRejectRate, at[-1].LikedRejectRate));   // x is never rejected
        // ≤ 5% liked: nothing (e scores exactly 1 with the disliked a and d). ≤ 30%: t = 0 takes 0.707 too.
        Assert.Equal(1.0, curve.PointAtLikedRate()!.Threshold);
        var p30 = curve.PointAtLikedRate(0.3)!;
        Assert.Equal((0.0, 0.8, 0.25), (Math.Round(p30.Threshold, 4), p30.DislikedRejectRate, p30.LikedRejectRate));
    }

    [Fact]
    public void Bad_catalog_options_and_predictions_are_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new Evaluator(Cb, new Dictionary<string, ulong> { ["z"] = 6 }, new EvalOptions()));
        Assert.Contains("'z'", e.Message);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => new Evaluator(Cb, Catalog, new EvalOptions { CandidateCount = 1 }));
        Assert.Contains("CandidateCount", o.Message);
        var bad = new Dictionary<string, ulong[]> { ["u1"] = [7], ["u2"] = [], ["u3"] = [] };
        var i = Assert.Throws<InvalidOperationException>(() => Evaluator().Evaluate("bad", Split(), Predict(bad)));
        Assert.Contains("'bad'", i.Message);
        Assert.Contains("'u1'", i.Message);
    }
}
