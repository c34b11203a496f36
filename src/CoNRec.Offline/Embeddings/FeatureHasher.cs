namespace CoNRec.Offline.Embeddings;

/// <summary>
/// Signed feature hashing with a hash that is stable across processes and runtimes (string.GetHashCode is randomised per
/// process, which would make embeddings irreproducible). The sign bit makes collisions cancel in expectation.
/// </summary>
internal static class FeatureHasher
{
    public static ulong Hash(string prefix, ReadOnlySpan<char> feature)
    {
        // FNV-1a over the UTF-16 code units, then the SplitMix64 finaliser so that the low bits used for buckets are well mixed.
        ulong h = 14695981039346656037UL;
        foreach (var c in prefix) h = (h ^ c) * 1099511628211UL;
        h = (h ^ '|') * 1099511628211UL;
        foreach (var c in feature) h = (h ^ c) * 1099511628211UL;
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebUL;
        h ^= h >> 31;
        return h;
    }

    /// <summary>Adds ±<paramref name="weight"/> to the feature's bucket of <paramref name="block"/>.</summary>
    public static void Add(Span<float> block, string prefix, ReadOnlySpan<char> feature, float weight)
    {
        if (block.IsEmpty) return;
        ulong h = Hash(prefix, feature);
        block[(int)(h % (ulong)block.Length)] += (h >> 63) == 0 ? weight : -weight;
    }
}
