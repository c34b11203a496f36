using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class ThresholdTunerTests
{
    private const bool D = true;  // disliked
    private const bool L = false; // liked

    // (0.9,D),(0.8,L),(0.7,D),(0.6,D),(0.5,L),(0.4,L): 3 disliked, 3 liked. Deliberately not in score order.
    private static readonly LabelledScore[] Hand =
    [
        new(0.6f, D), new(0.9f, D), new(0.4f, L), new(0.8f, L), new(0.5f, L), new(0.7f, D),
    ];

    // Worked by hand; rejected = score > t.
    //  t     rejected scores       disliked  liked  precision  count
    //  0.9   {}                    0/3       0/3    null       0
    //  0.8   {0.9D}                1/3       0/3    1/1        1
    //  0.7   {0.9D,0.8L}           1/3       1/3    1/2        2
    //  0.6   {+0.7D}               2/3       1/3    2/3        3
    //  0.5   {+0.6D}               3/3       1/3    3/4        4
    //  0.4   {+0.5L}               3/3       2/3    3/5        5
    //  -1    {+0.4L}               3/3       3/3    3/6        6
    private static readonly (float T, double Dis, double Lik, double? Prec, int Count)[] HandCurve =
    [
        (0.9f, 0, 0, null, 0),
        (0.8f, 1 / 3.0, 0, 1.0, 1),
        (0.7f, 1 / 3.0, 1 / 3.0, 0.5, 2),
        (0.6f, 2 / 3.0, 1 / 3.0, 2 / 3.0, 3),
        (0.5f, 1.0, 1 / 3.0, 0.75, 4),
        (0.4f, 1.0, 2 / 3.0, 0.6, 5),
        (-1f, 1.0, 1.0, 0.5, 6),
    ];

    private static void AssertPoint((float T, double Dis, double Lik, double? Prec, int Count) expected, CurvePoint actual)
    {
        Assert.Equal(expected.T, actual.Threshold);
        Assert.Equal(expected.Dis, actual.DislikedRejectRate, 1e-12);
        Assert.Equal(expected.Lik, actual.LikedRejectRate, 1e-12);
        if (expected.Prec is null) Assert.Null(actual.Precision);
        else
        {
            Assert.NotNull(actual.Precision);
            Assert.Equal(expected.Prec.Value, actual.Precision.Value, 1e-12);
        }
        Assert.Equal(expected.Count, actual.Rejected);
    }

    /// <summary>Independent check: count what a threshold actually rejects.</summary>
    private static (double Dis, double Lik) Apply(IEnumerable<LabelledScore> samples, float t)
    {
        var list = samples.ToList();
        int dis = list.Count(s => s.Disliked), lik = list.Count - dis;
        return (list.Count(s => s.Disliked && s.Score > t) / (double)dis, list.Count(s => !s.Disliked && s.Score > t) / (double)lik);
    }

    [Fact]
    public void Hand_computed_curve()
    {
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(0.34));
        Assert.Equal(3, r.Disliked);
        Assert.Equal(3, r.Liked);
        Assert.Null(r.Problem);
        Assert.Equal(HandCurve.Length, r.Curve.Count);
        for (int i = 0; i < HandCurve.Length; i++) AssertPoint(HandCurve[i], r.Curve[i]);
    }

    [Fact]
    public void Every_curve_point_reproduces_on_the_samples()
    {
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(1));
        foreach (var p in r.Curve)
        {
            var (dis, lik) = Apply(Hand, p.Threshold);
            Assert.Equal(dis, p.DislikedRejectRate, 1e-12);
            Assert.Equal(lik, p.LikedRejectRate, 1e-12);
        }
    }

    [Fact]
    public void MaxFalseRejectRate_picks_the_highest_recall_within_the_liked_budget()
    {
        // Liked rate <= 0.34 allows 0.9, 0.8, 0.7, 0.6, 0.5 (1/3 <= 0.34); best disliked rate 1.0 at t = 0.5.
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(0.34));
        Assert.NotNull(r.Recommended);
        AssertPoint(HandCurve[4], r.Recommended);
        Assert.Null(r.Problem);
    }

    [Fact]
    public void MaxFalseRejectRate_of_zero_picks_the_first_point_before_any_liked_rejection()
    {
        // Liked rate 0 allows only 0.9 and 0.8; 0.8 has the higher disliked rate (1/3).
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(0));
        AssertPoint(HandCurve[1], r.Recommended!);
    }

    [Fact]
    public void MaxFalseRejectRate_prefers_the_higher_threshold_on_equal_recall()
    {
        // Budget 2/3: 0.5 and 0.4 both reach disliked 1.0; the tie goes to the higher threshold 0.5.
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(0.7));
        AssertPoint(HandCurve[4], r.Recommended!);
        // Budget 1: -1 is allowed too but the tie still resolves to 0.5.
        var all = ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(1));
        AssertPoint(HandCurve[4], all.Recommended!);
    }

    [Fact]
    public void MinPrecision_picks_the_highest_recall_with_enough_precision()
    {
        // Precision >= 0.75 holds at 0.8 (1.0) and 0.5 (3/4 exactly); 0.7 (1/2), 0.6 (2/3), 0.4 (3/5), -1 (1/2) fail.
        // 0.5 has recall 1.0, so it wins.
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MinPrecision(0.75));
        AssertPoint(HandCurve[4], r.Recommended!);

        // 0.76 excludes 0.5; only 0.8 remains.
        var strict = ThresholdTuner.Tune(Hand, new TuningObjective.MinPrecision(0.76));
        AssertPoint(HandCurve[1], strict.Recommended!);

        // Precision 0.6 admits 0.4 (3/5) but 0.5 ties on recall with a higher threshold.
        var loose = ThresholdTuner.Tune(Hand, new TuningObjective.MinPrecision(0.6));
        AssertPoint(HandCurve[4], loose.Recommended!);
    }

    [Fact]
    public void Objective_that_nothing_meets_sets_a_problem()
    {
        var r = ThresholdTuner.Tune(Hand, new TuningObjective.MinPrecision(1.01));
        Assert.Null(r.Recommended);
        Assert.NotNull(r.Problem);
        Assert.Equal(HandCurve.Length, r.Curve.Count); // the curve is still reported

        // The empty-rejection point has null precision and must never satisfy MinPrecision, even MinPrecision(0).
        var zero = ThresholdTuner.Tune(Hand, new TuningObjective.MinPrecision(0));
        Assert.NotNull(zero.Recommended);
        Assert.NotNull(zero.Recommended.Precision);
    }

    [Fact]
    public void No_disliked_samples_is_a_problem()
    {
        LabelledScore[] samples = [new(0.9f, L), new(0.1f, L)];
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0.1));
        Assert.Null(r.Recommended);
        Assert.NotNull(r.Problem);
        Assert.Contains("0 disliked", r.Problem);
        Assert.Empty(r.Curve);
        Assert.Equal(0, r.Disliked);
        Assert.Equal(2, r.Liked);
    }

    [Fact]
    public void No_liked_samples_or_no_samples_is_a_problem()
    {
        var r = ThresholdTuner.Tune([new LabelledScore(0.9f, D)], new TuningObjective.MinPrecision(0.5));
        Assert.Null(r.Recommended);
        Assert.Contains("0 liked", r.Problem);

        var empty = ThresholdTuner.Tune([], new TuningObjective.MinPrecision(0.5));
        Assert.Null(empty.Recommended);
        Assert.NotNull(empty.Problem);
    }

    [Fact]
    public void Tied_scores_form_a_single_step()
    {
        // Two samples at 0.5 (one of each) and one liked at 0.2.
        // t=0.5: nothing; t=0.2: both 0.5s (dis 1/1, liked 1/2, precision 1/2); t=-1: all (dis 1, liked 1, precision 1/3).
        LabelledScore[] samples = [new(0.5f, D), new(0.5f, L), new(0.2f, L)];
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0.5));
        Assert.Equal(3, r.Curve.Count);
        AssertPoint((0.5f, 0, 0, null, 0), r.Curve[0]);
        AssertPoint((0.2f, 1, 0.5, 0.5, 2), r.Curve[1]);
        AssertPoint((-1f, 1, 1, 1 / 3.0, 3), r.Curve[2]);
        AssertPoint((0.2f, 1, 0.5, 0.5, 2), r.Recommended!);
    }

    [Fact]
    public void Lowest_score_of_minus_one_adds_no_extra_point()
    {
        // Nothing is above -1 when the lowest score is -1 itself, so there is no separate "-1" point after it.
        LabelledScore[] samples = [new(0.3f, D), new(-1f, L)];
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0));
        Assert.Equal(2, r.Curve.Count);
        AssertPoint((0.3f, 0, 0, null, 0), r.Curve[0]);
        AssertPoint((-1f, 1, 0, 1, 1), r.Curve[1]);
        AssertPoint((-1f, 1, 0, 1, 1), r.Recommended!);
    }

    private static LabelledScore[] Thousand()
    {
        // Scores 1.0, 0.999, ..., 0.001; the top 500 disliked, the bottom 500 liked.
        var samples = new LabelledScore[1000];
        for (int i = 0; i < 1000; i++) samples[i] = new((float)(1 - (i / 1000.0)), i < 500);
        return samples;
    }

    [Fact]
    public void Curve_is_capped_but_keeps_the_recommended_point()
    {
        var samples = Thousand();
        // 1000 distinct scores + the -1 point = 1001 points. MaxFalseRejectRate(0): best is rejecting exactly the
        // 500 disliked: threshold 0.5 (index 500), which is not on the sampled grid i*1000/9 for maxCurvePoints=10.
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0), maxCurvePoints: 10);
        Assert.NotNull(r.Recommended);
        Assert.Equal(0.5f, r.Recommended.Threshold);
        Assert.Equal(1.0, r.Recommended.DislikedRejectRate);
        Assert.Equal(0.0, r.Recommended.LikedRejectRate);
        Assert.Equal(1.0, r.Recommended.Precision);
        Assert.Equal(500, r.Recommended.Rejected);

        Assert.InRange(r.Curve.Count, 2, 11); // at most the cap plus the recommended point
        Assert.Contains(r.Recommended, r.Curve);
        Assert.Equal(1.0f, r.Curve[0].Threshold); // the "reject nothing" end is kept
        Assert.Equal(0, r.Curve[0].Rejected);
        Assert.Equal(-1f, r.Curve[^1].Threshold); // the "reject everything" end is kept
        Assert.Equal(1000, r.Curve[^1].Rejected);
        for (int i = 1; i < r.Curve.Count; i++) Assert.True(r.Curve[i].Threshold < r.Curve[i - 1].Threshold);
    }

    [Fact]
    public void Curve_below_the_cap_is_returned_whole()
    {
        var samples = Thousand();
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0), maxCurvePoints: 2000);
        Assert.Equal(1001, r.Curve.Count);
        var capped = ThresholdTuner.Tune(samples, new TuningObjective.MaxFalseRejectRate(0));
        Assert.InRange(capped.Curve.Count, 200, 201); // default cap of 200
        Assert.Contains(capped.Recommended!, capped.Curve);
    }

    [Fact]
    public void Curve_points_of_a_large_sweep_reproduce_on_the_samples()
    {
        var rng = new Random(5);
        var samples = Enumerable.Range(0, 300)
            .Select(_ => new LabelledScore(MathF.Round((float)((rng.NextDouble() * 2) - 1), 2), rng.Next(3) == 0))
            .ToArray();
        var r = ThresholdTuner.Tune(samples, new TuningObjective.MinPrecision(0.4), maxCurvePoints: 1000);
        foreach (var p in r.Curve)
        {
            var (dis, lik) = Apply(samples, p.Threshold);
            Assert.Equal(dis, p.DislikedRejectRate, 1e-12);
            Assert.Equal(lik, p.LikedRejectRate, 1e-12);
            Assert.Equal(samples.Count(s => s.Score > p.Threshold), p.Rejected);
        }
        if (r.Recommended is { } best)
        {
            Assert.True(best.Precision >= 0.4);
            // No point on the curve with enough precision has a higher recall.
            Assert.DoesNotContain(r.Curve, p => p.Precision >= 0.4 && p.DislikedRejectRate > best.DislikedRejectRate);
        }
    }

    [Fact]
    public void A_cap_below_two_points_is_an_argument_error()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ThresholdTuner.Tune(Hand, new TuningObjective.MaxFalseRejectRate(0.34), maxCurvePoints: 1));
    }
}
