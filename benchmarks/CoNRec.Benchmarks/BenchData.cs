using CoNRec.Core;

namespace CoNRec.Benchmarks;

/// <summary>Seeded synthetic inputs shared by the benchmarks, so every run measures the same data.</summary>
internal static class BenchData
{
    public static Codebook GaussianCodebook(int levels, int codes, int dimension, int seed)
    {
        var rng = new Random(seed);
        var values = new float[levels * codes * dimension];
        for (int i = 0; i < values.Length; i++) values[i] = SampleData.Gaussian(rng);
        return Codebook.Create(levels, codes, dimension, values);
    }

    public static ulong[] RandomSids(SidLayout layout, int count, Random rng)
    {
        var sids = new ulong[count];
        Span<uint> codes = stackalloc uint[layout.Levels];
        for (int i = 0; i < count; i++)
        {
            for (int l = 0; l < layout.Levels; l++) codes[l] = (uint)rng.Next(layout.CodesPerLevel);
            sids[i] = layout.Pack(codes);
        }
        return sids;
    }
}
