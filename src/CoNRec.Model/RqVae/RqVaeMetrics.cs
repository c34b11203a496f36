namespace CoNRec.Model.RqVae;

/// <summary>Reconstruction quality over a set of items: per-element MSE of x vs decoder(x̂), and mean cosine(x, decoder(x̂)).</summary>
public sealed record ReconstructionStats(int Count, double Mse, double MeanCosine)
{
    public static readonly ReconstructionStats Empty = new(0, double.NaN, double.NaN);
}

/// <summary>Codebook health measures computed from the per-item SIDs.</summary>
public static class RqVaeMetrics
{
    /// <summary>Per level: distinct codes used by any item / K.</summary>
    public static double[] Utilisation(IReadOnlyList<uint[]> sids, int levels, int codesPerLevel)
    {
        var result = new double[levels];
        for (int l = 0; l < levels; l++)
        {
            var used = new bool[codesPerLevel];
            int distinct = 0;
            foreach (var sid in sids)
                if (!used[sid[l]]) { used[sid[l]] = true; distinct++; }
            result[l] = (double)distinct / codesPerLevel;
        }
        return result;
    }

    /// <summary>
    /// Fraction of items whose full SID is also some other item's SID (both items count). Such items are
    /// indistinguishable to the filter; no de-duplication level is appended, the rate is only reported.
    /// </summary>
    public static double CollisionRate(IReadOnlyList<uint[]> sids)
    {
        if (sids.Count == 0) return 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var sid in sids)
        {
            var key = string.Join(',', sid);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        int colliding = counts.Values.Where(c => c > 1).Sum();
        return (double)colliding / sids.Count;
    }
}
