using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public class OperatingCurveTests
{
    [Fact]
    public void Rates_precision_and_the_best_point_under_a_liked_budget()
    {
        // disliked: 0.9, 0.6, 0.2, −∞;  liked: 0.5, and 19 at −0.3 to make 5% meaningful
        var samples = new List<(float, bool)> { (0.9f, true), (0.6f, true), (0.2f, true), (float.NegativeInfinity, true), (0.5f, false) };
        samples.AddRange(Enumerable.Repeat((-0.3f, false), 19));
        var curve = OperatingCurve.Build(samples);
        Assert.Equal((4, 20), (curve.Disliked, curve.Liked));
        // Thresholds are the distinct scores, highest first, then −1: t rejects everything strictly above it.
        Assert.Equal([0.9f, 0.6f, 0.5f, 0.2f, -0.3f, -1f], curve.Points.Select(p => (float)p.Threshold));
        var at = curve.Points.ToDictionary(p => (float)p.Threshold);
        Assert.Equal((0.0, 0.0), (at[0.9f].DislikedRejectRate, at[0.9f].LikedRejectRate));
        Assert.Null(at[0.9f].Precision);
        Assert.Equal((0.25, 0.0, 1.0), (at[0.6f].DislikedRejectRate, at[0.6f].LikedRejectRate, at[0.6f].Precision!.Value));
        Assert.Equal((0.5, 0.0), (at[0.5f].DislikedRejectRate, at[0.5f].LikedRejectRate));
        // t = 0.2 rejects 0.9, 0.6 and the liked 0.5 → 2/4, 1/20, precision 2/3
        Assert.Equal((0.5, 0.05), (at[0.2f].DislikedRejectRate, at[0.2f].LikedRejectRate));
        Assert.Equal(2.0 / 3, at[0.2f].Precision!.Value, 9);
        // ≤ 5% liked: t = −0.3 rejects 0.9, 0.6, 0.2 and the liked 0.5 → 3/4 at 1/20
        var best = curve.PointAtLikedRate(0.05)!;
        Assert.Equal((-0.3f, 0.75, 0.05), ((float)best.Threshold, best.DislikedRejectRate, best.LikedRejectRate));
        Assert.Equal(0.5, curve.PointAtLikedRate(0)!.DislikedRejectRate);
        // at −1 everything finite is rejected; −∞ never
        Assert.Equal((0.75, 1.0), (curve.Points[^1].DislikedRejectRate, curve.Points[^1].LikedRejectRate));
        // serving at a threshold between two scores gives the rates of the next score above it
        Assert.Equal(0.25, curve.At(0.7).DislikedRejectRate);
        Assert.Equal(0.5, curve.At(0.55).DislikedRejectRate);
    }

    [Fact]
    public void Tied_scores_are_one_step_rejected_together()
    {
        // Five exact matches (score 1): two disliked, three liked. No threshold can take some of them and not the others.
        var samples = new List<(float, bool)> { (1f, true), (1f, true), (1f, false), (1f, false), (1f, false), (0.5f, true) };
        samples.AddRange(Enumerable.Repeat((0f, false), 57));
        var curve = OperatingCurve.Build(samples);
        Assert.Equal([1f, 0.5f, 0f, -1f], curve.Points.Select(p => (float)p.Threshold));
        // Rejecting the tie group costs 3/60 = 5% of liked items in one step.
        var p1 = curve.Points[1];
        Assert.Equal((2.0 / 3, 0.05), (p1.DislikedRejectRate, p1.LikedRejectRate));
        // Under 4.9% liked nothing can be rejected: the exact matches carry liked items.
        Assert.Equal(0.0, curve.PointAtLikedRate(0.049)!.DislikedRejectRate);
    }

    [Fact]
    public void Scores_above_one_from_rounding_are_clamped()
    {
        var curve = OperatingCurve.Build([(1.0000001f, true), (0f, false)]);
        Assert.Equal(0.0, curve.Points[0].DislikedRejectRate);   // t = 1 rejects nothing
    }
}
