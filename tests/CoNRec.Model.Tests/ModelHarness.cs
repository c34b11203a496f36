using CoNRec.Model.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Tests;

/// <summary>Direct forward passes for tests: full logits without any cache, as a recomputation reference.</summary>
internal static class ModelHarness
{
    /// <summary>Log-probabilities [T, V] of a single unpadded sequence, computed with one full forward.</summary>
    public static float[][] LogProbs(Qwen3ForCausalLM model, int[] tokens) => Forward(model, tokens, logSoftmax: true);

    public static float[][] Logits(Qwen3ForCausalLM model, int[] tokens) => Forward(model, tokens, logSoftmax: false);

    private static float[][] Forward(Qwen3ForCausalLM model, int[] tokens, bool logSoftmax)
    {
        using var _ = torch.no_grad();
        using var scope = NewDisposeScope();
        var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        var valid = torch.ones([1, tokens.Length], ScalarType.Bool);
        var logits = model.Forward(ids, AttentionMasks.PrefillPositions(valid), AttentionMasks.Build(valid, tokens.Length, ScalarType.Float32)).squeeze(0);
        if (logSoftmax) logits = logits.log_softmax(-1);
        int v = (int)logits.shape[1];
        var flat = logits.data<float>().ToArray();
        return [.. Enumerable.Range(0, tokens.Length).Select(i => flat.AsSpan(i * v, v).ToArray())];
    }

    public static int[] RandomTokens(Random rng, int length, int vocab) => [.. Enumerable.Range(0, length).Select(_ => rng.Next(vocab))];

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Xunit.Assert.True(worst <= tol, $"{what}: max |diff| {worst:E3} at {at} exceeds {tol:E1}");
    }
}
