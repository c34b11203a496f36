using System.Numerics;

namespace CoNRec.Core;

/// <summary>
/// Shape of a semantic ID space: <see cref="Levels"/> codes, each below <see cref="CodesPerLevel"/>.
/// A SID is packed into a <see cref="ulong"/> (level 0 in the low bits), which is why
/// Levels × BitsPerCode must fit in 64 bits: the packed form is the cache key on the hot path.
/// </summary>
public readonly record struct SidLayout
{
    public const int MaxLevels = 8;
    public const int MaxCodesPerLevel = 1 << 20;

    public int Levels { get; }
    public int CodesPerLevel { get; }
    public int BitsPerCode { get; }

    public SidLayout(int levels, int codesPerLevel)
    {
        if (levels < 1 || levels > MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels must be in [1, {MaxLevels}]");
        if (codesPerLevel < 1 || codesPerLevel > MaxCodesPerLevel)
            throw new ArgumentOutOfRangeException(nameof(codesPerLevel), codesPerLevel, $"codes per level must be in [1, {MaxCodesPerLevel}]");
        int bits = Math.Max(1, 32 - BitOperations.LeadingZeroCount((uint)(codesPerLevel - 1)));
        if (levels * bits > 64)
            throw new ArgumentOutOfRangeException(nameof(levels), $"{levels} levels x {bits} bits per code exceed 64 bits");
        Levels = levels;
        CodesPerLevel = codesPerLevel;
        BitsPerCode = bits;
    }

    public int BitsPerSid => Levels * BitsPerCode;

    /// <summary>Returns null when valid, else a message naming the offending level and the limit.</summary>
    public string? Validate(ReadOnlySpan<uint> codes, string field = "sid")
    {
        if (codes.Length != Levels)
            return $"'{field}' has {codes.Length} codes; expected {Levels} (one per codebook level)";
        for (int l = 0; l < codes.Length; l++)
        {
            if (codes[l] >= (uint)CodesPerLevel)
                return $"'{field}[{l}]' = {codes[l]} is out of range; codes must be < {CodesPerLevel}";
        }
        return null;
    }

    public ulong Pack(ReadOnlySpan<uint> codes)
    {
        var error = Validate(codes);
        if (error is not null) throw new ArgumentException(error, nameof(codes));
        ulong packed = 0;
        for (int l = 0; l < Levels; l++) packed |= (ulong)codes[l] << (l * BitsPerCode);
        return packed;
    }

    public void Unpack(ulong packed, Span<uint> codes)
    {
        ulong mask = BitsPerCode == 64 ? ulong.MaxValue : (1UL << BitsPerCode) - 1;
        for (int l = 0; l < Levels; l++) codes[l] = (uint)((packed >> (l * BitsPerCode)) & mask);
    }

    /// <summary>True when every level's code of <paramref name="packed"/> is below K.</summary>
    public bool IsValidPacked(ulong packed)
    {
        if (BitsPerSid < 64 && (packed >> BitsPerSid) != 0) return false;
        ulong mask = (1UL << BitsPerCode) - 1;
        for (int l = 0; l < Levels; l++)
        {
            if (((packed >> (l * BitsPerCode)) & mask) >= (ulong)CodesPerLevel) return false;
        }
        return true;
    }

    public string Format(ulong packed)
    {
        Span<uint> codes = stackalloc uint[Levels];
        Unpack(packed, codes);
        return "[" + string.Join(",", codes.ToArray()) + "]";
    }
}
