using System.Numerics.Tensors;

namespace CoNRec.Core;

/// <summary>
/// The CoNRec GRPO reward (paper Eq. 6): reward = max_{i∈GTS} cos(out, i) − γ · max_{t∈FPS} cos(out, t),
/// where GTS is the ground-truth set (future negatives, optionally Swing-expanded) and FPS the future positive set.
/// Edge cases, chosen so a reward is always a finite number:
/// <list type="bullet">
/// <item>empty GTS: the first term is 0 (nothing to match earns nothing, rather than −∞);</item>
/// <item>empty FPS: there is no penalty term (the reward is the first term alone);</item>
/// <item>a zero vector (a SID whose codewords sum to zero) has cosine 0 with everything, as in
/// <see cref="Codebook.Reconstruct(ulong, Span{float})"/>.</item>
/// </list>
/// </summary>
public static class Reward
{
    /// <summary>
    /// Reward for one output on unit rows: <paramref name="groundTruth"/> and <paramref name="futurePositives"/> are
    /// row-major [n, <paramref name="dimension"/>] buffers of unit (or zero) vectors.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> groundTruth, ReadOnlySpan<float> futurePositives,
                                 int dimension, double gamma)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "dimension must be positive");
        if (!double.IsFinite(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be finite");
        if (output.Length != dimension)
            throw new ArgumentException($"output has {output.Length} values; expected the dimension {dimension}", nameof(output));
        if (groundTruth.Length % dimension != 0)
            throw new ArgumentException($"groundTruth has {groundTruth.Length} values, not a multiple of the dimension {dimension}", nameof(groundTruth));
        if (futurePositives.Length % dimension != 0)
            throw new ArgumentException($"futurePositives has {futurePositives.Length} values, not a multiple of the dimension {dimension}", nameof(futurePositives));

        double positive = groundTruth.IsEmpty ? 0 : MaxDot(output, groundTruth, dimension);
        double penalty = futurePositives.IsEmpty ? 0 : gamma * MaxDot(output, futurePositives, dimension);
        return positive - penalty;
    }

    /// <summary>Reward for one generated SID, every SID reconstructed through <paramref name="codebook"/>.</summary>
    public static double Compute(Codebook codebook, ulong output, IReadOnlyList<ulong> groundTruth, IReadOnlyList<ulong> futurePositives, double gamma)
    {
        ArgumentNullException.ThrowIfNull(codebook);
        int d = codebook.Dimension;
        var outVec = new float[d];
        codebook.Reconstruct(CheckedSid(codebook, output, "output"), outVec);
        return Compute(outVec, Rows(codebook, groundTruth, nameof(groundTruth)), Rows(codebook, futurePositives, nameof(futurePositives)), d, gamma);
    }

    private static float[] Rows(Codebook codebook, IReadOnlyList<ulong> sids, string field)
    {
        int d = codebook.Dimension;
        var rows = new float[sids.Count * d];
        for (int i = 0; i < sids.Count; i++) codebook.Reconstruct(CheckedSid(codebook, sids[i], $"{field}[{i}]"), rows.AsSpan(i * d, d));
        return rows;
    }

    private static ulong CheckedSid(Codebook codebook, ulong sid, string field) =>
        codebook.Layout.IsValidPacked(sid) ? sid
            : throw new ArgumentException($"{field} = 0x{sid:x} is not a valid packed SID for {codebook.Levels} levels x {codebook.CodesPerLevel} codes");

    private static double MaxDot(ReadOnlySpan<float> v, ReadOnlySpan<float> rows, int d)
    {
        double best = double.NegativeInfinity;
        for (int r = 0; r < rows.Length; r += d) best = Math.Max(best, TensorPrimitives.Dot(v, rows.Slice(r, d)));
        return best;
    }
}
