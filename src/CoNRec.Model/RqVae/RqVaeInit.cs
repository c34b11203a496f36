using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CoNRec.Model.RqVae;

/// <summary>
/// Weight initialisation from a seeded <see cref="Random"/> instead of torch's global generator: training must be
/// deterministic for a seed even when other code (or a parallel test) draws from torch's RNG.
/// </summary>
internal static class RqVaeInit
{
    /// <summary>torch's default Linear init range, U(−1/√in, 1/√in), for weight and bias.</summary>
    public static Linear Linear(int inFeatures, int outFeatures, Random rng)
    {
        var layer = nn.Linear(inFeatures, outFeatures, hasBias: true);
        double bound = 1.0 / Math.Sqrt(inFeatures);
        using var _ = torch.no_grad();
        layer.weight!.copy_(Uniform(rng, [outFeatures, inFeatures], bound));
        layer.bias!.copy_(Uniform(rng, [outFeatures], bound));
        return layer;
    }

    public static Tensor Uniform(Random rng, long[] shape, double bound)
    {
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(((rng.NextDouble() * 2) - 1) * bound);
        return torch.tensor(values, shape);
    }
}
