using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Training;

/// <summary>
/// The GRPO objective of Eq. 3 with the advantages of Eq. 4, as TRL's GRPOTrainer computes it: per token, the
/// clipped importance ratio against the rollout (old) policy, minus β times the k3 estimator of KL(π‖π_ref)
/// (exp(ref − logp) − (ref − logp) − 1, unbiased and never negative); averaged over each output's tokens, then over outputs.
/// </summary>
public static class GrpoLoss
{
    /// <summary>Group-normalised advantages: (r − mean) / (std + 1e-4) within each consecutive group of <paramref name="groupSize"/>; std is the sample (n − 1) std, as torch.std.</summary>
    public static float[] Advantages(IReadOnlyList<double> rewards, int groupSize)
    {
        if (groupSize < 2 || rewards.Count % groupSize != 0)
            throw new ArgumentException($"{rewards.Count} rewards do not split into groups of {groupSize}");
        var a = new float[rewards.Count];
        for (int g = 0; g < rewards.Count; g += groupSize)
        {
            double mean = 0;
            for (int i = 0; i < groupSize; i++) mean += rewards[g + i];
            mean /= groupSize;
            double var = 0;
            for (int i = 0; i < groupSize; i++) var += (rewards[g + i] - mean) * (rewards[g + i] - mean);
            double std = Math.Sqrt(var / (groupSize - 1));
            for (int i = 0; i < groupSize; i++) a[g + i] = (float)((rewards[g + i] - mean) / (std + 1e-4));
        }
        return a;
    }

    public sealed record Terms(Tensor Loss, double Kl, double ClipFraction);

    /// <param name="logProbs">[B, L] per-token log-probabilities under the policy being trained (with gradient)</param>
    /// <param name="oldLogProbs">[B, L] under the policy that sampled the rollouts</param>
    /// <param name="refLogProbs">[B, L] under the frozen reference</param>
    /// <param name="advantages">[B]</param>
    public static Terms Compute(Tensor logProbs, Tensor oldLogProbs, Tensor refLogProbs, Tensor advantages, double epsilon, double beta)
    {
        using var scope = NewDisposeScope();
        var a = advantages.unsqueeze(1);
        var ratio = (logProbs - oldLogProbs).exp();
        var unclipped = ratio * a;
        var clipped = ratio.clamp(1 - epsilon, 1 + epsilon) * a;
        var policy = -torch.minimum(unclipped, clipped);
        var delta = refLogProbs - logProbs;
        var kl = delta.exp() - delta - 1;
        var perToken = policy + (beta * kl);
        var loss = perToken.mean([1]).mean();
        var isClipped = ratio.lt(1 - epsilon).logical_and(a.lt(0)).logical_or(ratio.gt(1 + epsilon).logical_and(a.gt(0)));
        double klMean = kl.mean().item<float>();
        double clipFraction = isClipped.to_type(ScalarType.Float32).mean().item<float>();
        return new Terms(loss.MoveToOuterDisposeScope(), klMean, clipFraction);
    }
}
