using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class SimilarityTests
{
    private static float[] RandomUnitRows(int rows, int d, Random rng)
    {
        var data = new float[rows * d];
        for (int r = 0; r < rows; r++)
        {
            double norm = 0;
            for (int k = 0; k < d; k++)
            {
                double v = (rng.NextDouble() * 2) - 1;
                data[(r * d) + k] = (float)v;
            }
            for (int k = 0; k < d; k++) norm += (double)data[(r * d) + k] * data[(r * d) + k];
            norm = Math.Sqrt(norm);
            for (int k = 0; k < d; k++) data[(r * d) + k] = (float)(data[(r * d) + k] / norm);
        }
        return data;
    }

    /// <summary>Independent reference: double-precision dot products, first maximum wins.</summary>
    private static (double[] Best, int[] Index) Naive(float[] candidates, float[] predicted, int d)
    {
        int n = candidates.Length / d, m = predicted.Length / d;
        var best = new double[n];
        var index = new int[n];
        for (int i = 0; i < n; i++)
        {
            best[i] = double.NegativeInfinity;
            index[i] = -1;
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += (double)candidates[(i * d) + k] * predicted[(j * d) + k];
                if (s > best[i]) { best[i] = s; index[i] = j; }
            }
        }
        return (best, index);
    }

    public static TheoryData<int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int d in new[] { 8, 16, 256, 10 })
            foreach (int n in new[] { 0, 1, 3, 4, 5, 17 })
                foreach (int m in new[] { 0, 1, 2, 3, 20 })
                    data.Add(d, n, m);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MaxCosine_matches_a_naive_double_precision_reference(int d, int n, int m)
    {
        var rng = new Random((d * 1000) + (n * 37) + m);
        var candidates = RandomUnitRows(n, d, rng);
        var predicted = RandomUnitRows(m, d, rng);

        // Oversized outputs prefilled with sentinels: only the first n entries may change.
        var best = new float[n + 2];
        var index = new int[n + 2];
        Array.Fill(best, 42f);
        Array.Fill(index, 42);
        Similarity.MaxCosine(candidates, predicted, d, best, index);

        var (expBest, expIndex) = Naive(candidates, predicted, d);
        for (int i = 0; i < n; i++)
        {
            if (m == 0)
            {
                Assert.Equal(float.NegativeInfinity, best[i]);
                Assert.Equal(-1, index[i]);
                continue;
            }
            Assert.InRange(index[i], 0, m - 1);
            Assert.True(Math.Abs(expBest[i] - best[i]) <= 1e-5, $"row {i}: expected {expBest[i]}, got {best[i]}");
            // The chosen index must score (in double precision) within tolerance of the true maximum;
            // it may differ from the reference only on a near-tie.
            double chosen = 0;
            for (int k = 0; k < d; k++) chosen += (double)candidates[(i * d) + k] * predicted[(index[i] * d) + k];
            Assert.True(Math.Abs(chosen - expBest[i]) <= 1e-5, $"row {i}: index {index[i]} scores {chosen}, best is {expBest[i]} at {expIndex[i]}");
            Assert.True(Math.Abs(chosen - best[i]) <= 1e-5);
        }
        Assert.Equal(42f, best[n]);
        Assert.Equal(42, index[n + 1]);
    }

    [Fact]
    public void Hand_computed_two_dimensional_case_scalar_path()
    {
        // candidates (1,0), (0,1), (0.6,0.8) vs predicted (0,1), (1,0).
        // (1,0): 0, 1 -> 1 at 1. (0,1): 1, 0 -> 1 at 0. (0.6,0.8): 0.8, 0.6 -> 0.8 at 0 (predicted (0,1) is index 0).
        float[] candidates = [1, 0, 0, 1, 0.6f, 0.8f];
        float[] predicted = [0, 1, 1, 0];
        var best = new float[3];
        var index = new int[3];
        Similarity.MaxCosine(candidates, predicted, 2, best, index);
        Assert.Equal(1f, best[0], 1e-6f);
        Assert.Equal(1f, best[1], 1e-6f);
        Assert.Equal(0.8f, best[2], 1e-6f);
        Assert.Equal([1, 0, 0], index);
    }

    private static float[] Pad(float[] rows, int from, int to)
    {
        int n = rows.Length / from;
        var result = new float[n * to];
        for (int r = 0; r < n; r++) Array.Copy(rows, r * from, result, r * to, from);
        return result;
    }

    [Fact]
    public void Hand_computed_case_padded_to_eight_dimensions_vector_path()
    {
        // Four candidates so the 4-row block runs; the first three are the 2-d case, the fourth is (-1, 0).
        float[] candidates = Pad([1, 0, 0, 1, 0.6f, 0.8f, -1, 0], 2, 8);
        float[] predicted = Pad([0, 1, 1, 0], 2, 8);
        var best = new float[4];
        var index = new int[4];
        Similarity.MaxCosine(candidates, predicted, 8, best, index);
        Assert.Equal(1f, best[0], 1e-6f);
        Assert.Equal(1f, best[1], 1e-6f);
        Assert.Equal(0.8f, best[2], 1e-6f);
        Assert.Equal(0f, best[3], 1e-6f); // (-1,0)·(0,1) = 0 > (-1,0)·(1,0) = -1
        Assert.Equal([1, 0, 0, 0], index);

        // Same numbers with 3 predicted rows (odd m: the block's leftover column) and 5 candidates (scalar tail).
        float[] candidates5 = Pad([1, 0, 0, 1, 0.6f, 0.8f, -1, 0, 0.8f, -0.6f], 2, 8);
        float[] predicted3 = Pad([0, 1, 1, 0, 0, -1], 2, 8);
        var best5 = new float[5];
        var index5 = new int[5];
        Similarity.MaxCosine(candidates5, predicted3, 8, best5, index5);
        // (0.6,0.8): 0.8, 0.6, -0.8 -> 0.8 at 0. (-1,0): 0, -1, 0 -> 0 at index 0 (tie with index 2 keeps 0). (0.8,-0.6): -0.6, 0.8, 0.6 -> 0.8 at 1.
        float[] expected5 = [1f, 1f, 0.8f, 0f, 0.8f];
        for (int i = 0; i < 5; i++) Assert.Equal(expected5[i], best5[i], 1e-6f);
        Assert.Equal([1, 0, 0, 0, 1], index5);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(16)]
    public void Ties_keep_the_lowest_predicted_index(int d)
    {
        var rng = new Random(d);
        var row = RandomUnitRows(1, d, rng);
        var other = RandomUnitRows(1, d, rng);
        // Predicted: other, row, other, row, row -> for a candidate equal to `row`, indices 1, 3, 4 tie at the max.
        var predicted = other.Concat(row).Concat(other).Concat(row).Concat(row).ToArray();
        // Candidates: 6 copies of row (a full 4-block plus a scalar tail) and, at position 5, `other` (ties 0 and 2).
        var candidates = Enumerable.Repeat(row, 5).SelectMany(r => r).Concat(other).ToArray();
        var best = new float[6];
        var index = new int[6];
        Similarity.MaxCosine(candidates, predicted, d, best, index);
        Assert.Equal([1, 1, 1, 1, 1, 0], index);

        // Every predicted row identical: the winner is always index 0.
        var same = Enumerable.Repeat(row, 7).SelectMany(r => r).ToArray();
        Similarity.MaxCosine(candidates, same, d, best, index);
        Assert.All(index, i => Assert.Equal(0, i));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    public void No_predictions_means_negative_infinity_and_index_minus_one(int d)
    {
        var candidates = RandomUnitRows(6, d, new Random(1));
        var best = new float[6];
        var index = new int[6];
        Array.Fill(best, 3f);
        Array.Fill(index, 3);
        Similarity.MaxCosine(candidates, [], d, best, index);
        Assert.All(best, b => Assert.Equal(float.NegativeInfinity, b));
        Assert.All(index, i => Assert.Equal(-1, i));
    }

    [Fact]
    public void Argument_validation()
    {
        var best = new float[4];
        var index = new int[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Similarity.MaxCosine(new float[4], new float[4], 0, best, index));
        Assert.Throws<ArgumentException>(() => Similarity.MaxCosine(new float[5], new float[4], 2, best, index));
        Assert.Throws<ArgumentException>(() => Similarity.MaxCosine(new float[4], new float[5], 2, best, index));
        Assert.Throws<ArgumentException>(() => Similarity.MaxCosine(new float[10], new float[4], 2, best, index)); // n=5 > 4
        Assert.Throws<ArgumentException>(() => Similarity.MaxCosine(new float[8], new float[4], 2, best, new int[3]));
    }

    [Fact]
    public void MaxCosine_does_not_allocate()
    {
        const int n = 500, m = 20, d = 256;
        var rng = new Random(99);
        var candidates = RandomUnitRows(n, d, rng);
        var predicted = RandomUnitRows(m, d, rng);
        var best = new float[n];
        var index = new int[n];
        Similarity.MaxCosine(candidates, predicted, d, best, index); // warm-up (JIT, tiering)

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < 100; r++) Similarity.MaxCosine(candidates, predicted, d, best, index);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
    }
}
