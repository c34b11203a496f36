using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public class OperatingCurveTests
{
    [Fact]
    public void Rates_precision_and_the_best_point_under_a_liked_budget()
    {
        // disliked: 0.9, 0.6, 0.2, −∞;  liked: 0.5, 0.1 (×19 at −0.3 to make 5% meaningful)
        var samples = new List<(float, bool)> { (0.9f, true), (0.6f, true), (0.2f, true), (float.NegativeInfinity, true), (0.5f, false) };
        samples.AddRange(Enumerable.Repeat((-0.3f, false), 19));
        var curve = OperatingCurve.Build(samples);
        Assert.Equal((4, 20), (curve.Disliked, curve.Liked));
        Assert.Equal(1.0, curve.Points[0].Threshold);
        Assert.Equal(-1.0, curve.Points[^1].Threshold);
        var at = curve.Points.ToDictionary(p => Math.Round(p.Threshold, 4));
        // t = 0.55: rejects 0.9, 0.6 → 2/4 disliked, 0/20 liked, precision 1
        Assert.Equal((0.5, 0.0, 1.0), (at[0.55].DislikedRejectRate, at[0.55].LikedRejectRate, at[0.55].Precision!.Value));
        // t = 0.3: rejects 0.9, 0.6, 0.5(liked) → 2/4, 1/20, precision 2/3
        Assert.Equal((0.5, 0.05), (at[0.3].DislikedRejectRate, at[0.3].LikedRejectRate));
        Assert.Equal(2.0 / 3, at[0.3].Precision!.Value, 9);
        // t = 0.6 is a distinct score: 0.6 itself is not rejected (strictly above)
        Assert.Equal(0.25, at[0.6].DislikedRejectRate);
        // ≤ 5% liked: t in [−0.3, 0.2) rejects 0.9, 0.6, 0.2 and the liked 0.5 → 3/4, 1/20; the highest such t is the grid's 0.19
        var best = curve.PointAtLikedRate(0.05)!;
        Assert.Equal((0.19, 0.75, 0.05), (Math.Round(best.Threshold, 4), best.DislikedRejectRate, best.LikedRejectRate));
        // ≤ 0%: t ≥ 0.5 → 2 disliked
        Assert.Equal(0.5, curve.PointAtLikedRate(0)!.DislikedRejectRate);
        // at −1 everything finite is rejected; −∞ never
        Assert.Equal((0.75, 1.0), (curve.Points[^1].DislikedRejectRate, curve.Points[^1].LikedRejectRate));
    }

    [Fact]
    public void Scores_above_one_from_rounding_are_clamped()
    {
        var curve = OperatingCurve.Build([(1.0000001f, true), (0f, false)]);
        Assert.Equal(0.0, curve.Points[0].DislikedRejectRate);   // t = 1 rejects nothing
    }
}
