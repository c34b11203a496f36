using System.Numerics.Tensors;

namespace CoNRec.Model.RqVae;

/// <summary>
/// Plain k-means (k-means++ seeding, then Lloyd iterations) on rows of a float matrix, used to initialise each RQ-VAE
/// level's codebook on that level's residuals. Seeded and single-threaded, so it is deterministic.
/// </summary>
public static class KMeans
{
    /// <returns>k centroids, row-major [k, d]. With fewer distinct points than k, some centroids repeat a point.</returns>
    public static float[] Fit(ReadOnlySpan<float> points, int d, int k, int iterations, Random rng)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), d, "d must be >= 1");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be >= 1");
        if (points.Length == 0 || points.Length % d != 0)
            throw new ArgumentException($"points has {points.Length} values; expected a non-empty multiple of d = {d}", nameof(points));
        int m = points.Length / d;
        var centroids = new float[k * d];
        var nearest = new double[m];     // D(x)²: squared distance to the closest centroid chosen so far

        // k-means++: first centroid uniform, each next one drawn with probability ∝ D(x)².
        points.Slice(rng.Next(m) * d, d).CopyTo(centroids);
        for (int i = 0; i < m; i++) nearest[i] = Squared(points.Slice(i * d, d), centroids.AsSpan(0, d));
        for (int c = 1; c < k; c++)
        {
            double total = nearest.Sum();
            int pick;
            if (total <= 0) pick = rng.Next(m); // every point already coincides with a centroid
            else
            {
                double target = rng.NextDouble() * total, run = 0;
                pick = m - 1;
                for (int i = 0; i < m; i++)
                {
                    run += nearest[i];
                    if (run > target) { pick = i; break; }
                }
            }
            var centre = centroids.AsSpan(c * d, d);
            points.Slice(pick * d, d).CopyTo(centre);
            for (int i = 0; i < m; i++) nearest[i] = Math.Min(nearest[i], Squared(points.Slice(i * d, d), centre));
        }

        var assign = new int[m];
        var sums = new double[k * d];
        var counts = new int[k];
        for (int it = 0; it < iterations; it++)
        {
            bool changed = it == 0;
            for (int i = 0; i < m; i++)
            {
                int a = Assign(points.Slice(i * d, d), centroids, d, k);
                if (a != assign[i]) { assign[i] = a; changed = true; }
            }
            if (!changed) break;
            Array.Clear(sums);
            Array.Clear(counts);
            for (int i = 0; i < m; i++)
            {
                counts[assign[i]]++;
                var p = points.Slice(i * d, d);
                for (int j = 0; j < d; j++) sums[(assign[i] * d) + j] += p[j];
            }
            // An empty cluster keeps its centroid: reseeding is the trainer's dead-code reset's job.
            for (int c = 0; c < k; c++)
                if (counts[c] > 0)
                    for (int j = 0; j < d; j++) centroids[(c * d) + j] = (float)(sums[(c * d) + j] / counts[c]);
        }
        return centroids;
    }

    /// <summary>Index of the nearest centroid (lowest index on ties).</summary>
    public static int Assign(ReadOnlySpan<float> point, ReadOnlySpan<float> centroids, int d, int k)
    {
        int best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int c = 0; c < k; c++)
        {
            float dist = TensorPrimitives.Distance(point, centroids.Slice(c * d, d));
            if (dist < bestDistance) { bestDistance = dist; best = c; }
        }
        return best;
    }

    private static double Squared(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dist = TensorPrimitives.Distance(a, b);
        return dist * dist;
    }
}
