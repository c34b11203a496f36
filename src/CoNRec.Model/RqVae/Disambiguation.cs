using System.Numerics.Tensors;

namespace CoNRec.Model.RqVae;

/// <summary>
/// An extra level that tells apart items whose L-level SIDs collide (TIGER appends such a level as a plain index). Here it
/// is a codebook too, so it keeps meaning for the filter's cosines: its K codewords are k-means centroids of the items'
/// last residuals, and within each group of items sharing an L-level prefix every item takes the nearest codeword not
/// yet taken by the group (items in order of their own best distance). Groups of at most K items end up unique; a
/// larger group keeps collisions (counted). A cold-start item, quantised in the service, simply takes its nearest code.
/// </summary>
public static class Disambiguation
{
    public sealed record Result(float[] Codebook, uint[] Codes, int Colliding);

    /// <param name="residuals">Each item's residual after the last level, row-major [n, d].</param>
    /// <param name="prefixes">Each item's L-level SID.</param>
    public static Result Assign(float[] residuals, int d, IReadOnlyList<uint[]> prefixes, int k, int iterations, Random rng)
    {
        int n = prefixes.Count;
        if (residuals.Length != n * d) throw new ArgumentException($"residuals has {residuals.Length} values; {n} items × d = {d} need {n * d}", nameof(residuals));
        var codebook = KMeans.Fit(residuals, d, k, iterations, rng);
        var codes = new uint[n];
        var distance = new float[n * k];
        for (int i = 0; i < n; i++)
            for (int c = 0; c < k; c++)
                distance[(i * k) + c] = TensorPrimitives.Distance(residuals.AsSpan(i * d, d), codebook.AsSpan(c * d, d));
        int colliding = 0;
        foreach (var group in Enumerable.Range(0, n).GroupBy(i => string.Join(',', prefixes[i]), StringComparer.Ordinal))
        {
            var members = group.OrderBy(i => Min(distance.AsSpan(i * k, k))).ThenBy(i => i).ToList();
            var taken = new bool[k];
            int free = k;
            foreach (int i in members)
            {
                var row = distance.AsSpan(i * k, k);
                int best = -1;
                for (int c = 0; c < k; c++)
                    if ((free == 0 || !taken[c]) && (best < 0 || row[c] < row[best])) best = c;
                if (free > 0) { taken[best] = true; free--; }
                else colliding++;
                codes[i] = (uint)best;
            }
        }
        return new Result(codebook, codes, colliding);
    }

    private static float Min(ReadOnlySpan<float> row) => TensorPrimitives.Min(row);
}
