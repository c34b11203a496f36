using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class RewardTests
{
    // L=2, K=2, d=2: level0 = [[3,0],[0,1]], level1 = [[0,4],[1,1]]. Reconstructions (sum, then normalise):
    //   (0,0) = [3,4]/5 = [0.6, 0.8]      (1,0) = [0,5]/5 = [0, 1]
    //   (0,1) = [4,1]/√17                 (1,1) = [1,2]/√5
    // cos((0,0),(1,0)) = 0.8;  cos((0,0),(0,1)) = (12+4)/(5√17) = 16/(5√17) ≈ 0.776114
    // cos((0,0),(1,1)) = (3+8)/(5√5) = 11/(5√5) ≈ 0.983870
    private static readonly Codebook Cb = Codebook.Create(2, 2, 2, [3, 0, 0, 1, 0, 4, 1, 1]);
    private static ulong Sid(uint a, uint b) => Cb.Layout.Pack([a, b]);

    [Fact]
    public void Unit_vectors_give_best_match_minus_gamma_times_best_positive()
    {
        float s = MathF.Sqrt(0.5f);
        // out = [1,0]; GTS = {[0,1] (cos 0), [s,s] (cos √½)}; FPS = {[-1,0] (cos -1), [1,0] (cos 1)}
        double r = Reward.Compute([1f, 0f], [0f, 1f, s, s], [-1f, 0f, 1f, 0f], 2, gamma: 0.5);
        Assert.Equal(Math.Sqrt(0.5) - 0.5, r, 6);
    }

    [Fact]
    public void Empty_fps_has_no_penalty_and_empty_gts_scores_zero_for_the_first_term()
    {
        Assert.Equal(1.0, Reward.Compute([0f, 1f], [0f, 1f], [], 2, gamma: 3), 6);
        // GTS empty → 0; FPS best cos = 1 → 0 − 2·1
        Assert.Equal(-2.0, Reward.Compute([0f, 1f], [], [0f, 1f], 2, gamma: 2), 6);
        Assert.Equal(0.0, Reward.Compute([0f, 1f], [], [], 2, gamma: 2), 6);
    }

    [Fact]
    public void Packed_sids_are_reconstructed_through_the_codebook()
    {
        // GTS = {(1,0), (1,1)} → max(0.8, 0.983870); FPS = {(0,1)} → 0.776114; γ = 0.5
        double r = Reward.Compute(Cb, Sid(0, 0), [Sid(1, 0), Sid(1, 1)], [Sid(0, 1)], gamma: 0.5);
        Assert.Equal(11 / (5 * Math.Sqrt(5)) - 0.5 * 16 / (5 * Math.Sqrt(17)), r, 5);
        Assert.Equal(0.8, Reward.Compute(Cb, Sid(0, 0), [Sid(1, 0)], [], gamma: 0.5), 5);
    }

    [Fact]
    public void Bad_input_is_named()
    {
        var e = Assert.Throws<ArgumentException>(() => Reward.Compute([1f, 0f], [1f, 0f, 1f], [], 2, 0.1));
        Assert.Contains("groundTruth", e.Message);
        e = Assert.Throws<ArgumentException>(() => Reward.Compute([1f], [1f, 0f], [], 2, 0.1));
        Assert.Contains("output", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Reward.Compute([1f, 0f], [], [], 2, double.NaN));
        // 0b110 sets a bit above the 2 bits this layout uses (1 bit per code, 2 levels)
        e = Assert.Throws<ArgumentException>(() => Reward.Compute(Cb, Sid(0, 0), [0b11_0], [], 0.1));
        Assert.Contains("groundTruth[0]", e.Message);
    }
}
