namespace CoNRec.Core;

/// <summary>How many SIDs of each part a decoded user profile holds, laid out [predicted | negatives | positives].</summary>
public readonly record struct ProfileCounts(int Predicted, int Negatives, int Positives)
{
    public int Total => Predicted + Negatives + Positives;
    /// <summary>The negative side: the model's predicted SIDs followed by the recent explicit negatives.</summary>
    public int NegativeSide => Predicted + Negatives;
}

/// <summary>
/// Binary form of a list of SIDs, as stored in Redis hash fields (per-user predictions and catalog entries).
/// Layout v1: [version=1][levels][bits per code][count] then count × levels × bits, little-endian bit stream,
/// zero-padded to a byte. Self-describing so a reader can reject a value written under another layout
/// instead of silently decoding it with the wrong codebook.
/// <para>A user's negative profile (predicted SIDs, recent negatives, recent positives) is v2:
/// [version=2][levels][bits][predicted][negatives][positives] then the three lists in that order, one bit stream.
/// A profile with no negatives and no positives is written as v1, byte-identical to a plain prediction list, so a
/// generation loaded from an old predictions file is stored (and served) exactly as before.</para>
/// </summary>
public static class SidSetCodec
{
    public const byte Version = 1;
    public const byte ProfileVersion = 2;
    public const int HeaderBytes = 4;
    public const int ProfileHeaderBytes = 6;
    public const int MaxCount = 255;
    /// <summary>Decode buffers for a profile need room for three full parts.</summary>
    public const int MaxProfileCount = 3 * MaxCount;

    public static int ProfileLength(SidLayout layout, int predicted, int negatives, int positives) =>
        negatives == 0 && positives == 0
            ? EncodedLength(layout, predicted)
            : ProfileHeaderBytes + (int)(((long)(predicted + negatives + positives) * layout.BitsPerSid + 7) / 8);

    /// <summary>Encodes a profile (v1 when it has only predictions). Each part holds at most <see cref="MaxCount"/> SIDs.</summary>
    public static int EncodeProfile(SidLayout layout, ReadOnlySpan<ulong> predicted, ReadOnlySpan<ulong> negatives, ReadOnlySpan<ulong> positives,
        Span<byte> destination)
    {
        if (negatives.IsEmpty && positives.IsEmpty) return Encode(layout, predicted, destination);
        if (predicted.Length > MaxCount) throw new ArgumentException($"at most {MaxCount} predicted SIDs fit one profile; got {predicted.Length}", nameof(predicted));
        if (negatives.Length > MaxCount) throw new ArgumentException($"at most {MaxCount} recent negatives fit one profile; got {negatives.Length}", nameof(negatives));
        if (positives.Length > MaxCount) throw new ArgumentException($"at most {MaxCount} recent positives fit one profile; got {positives.Length}", nameof(positives));
        int length = ProfileLength(layout, predicted.Length, negatives.Length, positives.Length);
        if (destination.Length < length) throw new ArgumentException("destination too small", nameof(destination));
        destination[..length].Clear();
        destination[0] = ProfileVersion;
        destination[1] = (byte)layout.Levels;
        destination[2] = (byte)layout.BitsPerCode;
        destination[3] = (byte)predicted.Length;
        destination[4] = (byte)negatives.Length;
        destination[5] = (byte)positives.Length;
        var payload = destination[ProfileHeaderBytes..];
        long bitPos = 0;
        WriteAll(layout, predicted, payload, ref bitPos, nameof(predicted));
        WriteAll(layout, negatives, payload, ref bitPos, nameof(negatives));
        WriteAll(layout, positives, payload, ref bitPos, nameof(positives));
        return length;
    }

    /// <summary>
    /// Decodes a user value (v1 prediction list or v2 profile) into <paramref name="destination"/> as
    /// [predicted | negatives | positives]. Returns null on success, else why the bytes are malformed. Never throws on bad input.
    /// </summary>
    public static string? TryDecodeProfile(ReadOnlySpan<byte> value, SidLayout layout, Span<ulong> destination, out ProfileCounts counts)
    {
        counts = default;
        if (value.Length >= 1 && value[0] == Version)
        {
            var problem = TryDecode(value, layout, destination, out int n);
            if (problem is null) counts = new ProfileCounts(n, 0, 0);
            return problem;
        }
        if (value.Length < ProfileHeaderBytes) return $"value is {value.Length} bytes; a profile header alone is {ProfileHeaderBytes}";
        if (value[0] != ProfileVersion) return $"unknown format version {value[0]}; expected {Version} or {ProfileVersion}";
        if (value[1] != layout.Levels || value[2] != layout.BitsPerCode)
            return $"written for {value[1]} levels x {value[2]} bits; the codebook has {layout.Levels} levels x {layout.BitsPerCode} bits";
        int total = value[3] + value[4] + value[5];
        int expected = ProfileLength(layout, value[3], value[4], value[5]);
        if (value[4] == 0 && value[5] == 0) expected = ProfileHeaderBytes + (int)(((long)total * layout.BitsPerSid + 7) / 8);
        if (value.Length != expected) return $"value is {value.Length} bytes; a profile of {total} SIDs needs {expected}";
        if (destination.Length < total) return $"{total} SIDs exceed the buffer of {destination.Length}";
        var payload = value[ProfileHeaderBytes..];
        int bits = layout.BitsPerSid;
        long bitPos = 0;
        for (int i = 0; i < total; i++)
        {
            ulong sid = ReadBits(payload, bitPos, bits);
            if (!layout.IsValidPacked(sid)) return $"SID #{i} has a code >= {layout.CodesPerLevel}";
            destination[i] = sid;
            bitPos += bits;
        }
        counts = new ProfileCounts(value[3], value[4], value[5]);
        return null;
    }

    private static void WriteAll(SidLayout layout, ReadOnlySpan<ulong> sids, Span<byte> payload, ref long bitPos, string name)
    {
        int bits = layout.BitsPerSid;
        foreach (var sid in sids)
        {
            if (!layout.IsValidPacked(sid)) throw new ArgumentException($"SID {sid:X} in {name} is invalid for {layout}", name);
            WriteBits(payload, bitPos, sid, bits);
            bitPos += bits;
        }
    }

    public static int EncodedLength(SidLayout layout, int count) =>
        HeaderBytes + (int)(((long)count * layout.BitsPerSid + 7) / 8);

    public static byte[] Encode(SidLayout layout, ReadOnlySpan<ulong> sids)
    {
        var buffer = new byte[EncodedLength(layout, sids.Length)];
        Encode(layout, sids, buffer);
        return buffer;
    }

    public static int Encode(SidLayout layout, ReadOnlySpan<ulong> sids, Span<byte> destination)
    {
        if (sids.Length > MaxCount)
            throw new ArgumentException($"at most {MaxCount} SIDs fit one value; got {sids.Length}", nameof(sids));
        int length = EncodedLength(layout, sids.Length);
        if (destination.Length < length) throw new ArgumentException("destination too small", nameof(destination));
        destination[..length].Clear();
        destination[0] = Version;
        destination[1] = (byte)layout.Levels;
        destination[2] = (byte)layout.BitsPerCode;
        destination[3] = (byte)sids.Length;
        int bits = layout.BitsPerSid;
        long bitPos = 0;
        var payload = destination[HeaderBytes..];
        foreach (var sid in sids)
        {
            if (!layout.IsValidPacked(sid)) throw new ArgumentException($"SID {sid:X} is invalid for {layout}", nameof(sids));
            WriteBits(payload, bitPos, sid, bits);
            bitPos += bits;
        }
        return length;
    }

    /// <summary>
    /// Decodes into <paramref name="destination"/>. Returns null on success, else why the bytes are malformed.
    /// Never throws on bad input: values come from an external store.
    /// </summary>
    public static string? TryDecode(ReadOnlySpan<byte> value, SidLayout layout, Span<ulong> destination, out int count)
    {
        count = 0;
        if (value.Length < HeaderBytes) return $"value is {value.Length} bytes; the header alone is {HeaderBytes}";
        if (value[0] != Version) return $"unknown format version {value[0]}; expected {Version}";
        if (value[1] != layout.Levels || value[2] != layout.BitsPerCode)
            return $"written for {value[1]} levels x {value[2]} bits; the codebook has {layout.Levels} levels x {layout.BitsPerCode} bits";
        int n = value[3];
        int expected = EncodedLength(layout, n);
        if (value.Length != expected) return $"value is {value.Length} bytes; {n} SIDs need {expected}";
        if (destination.Length < n) return $"{n} SIDs exceed the buffer of {destination.Length}";
        int bits = layout.BitsPerSid;
        var payload = value[HeaderBytes..];
        long bitPos = 0;
        for (int i = 0; i < n; i++)
        {
            ulong sid = ReadBits(payload, bitPos, bits);
            if (!layout.IsValidPacked(sid)) return $"SID #{i} has a code >= {layout.CodesPerLevel}";
            destination[i] = sid;
            bitPos += bits;
        }
        count = n;
        return null;
    }

    private static void WriteBits(Span<byte> buffer, long bitPos, ulong value, int bits)
    {
        for (int written = 0; written < bits;)
        {
            int byteIndex = (int)(bitPos >> 3), bitOffset = (int)(bitPos & 7);
            int take = Math.Min(8 - bitOffset, bits - written);
            byte chunk = (byte)((value >> written) & ((1UL << take) - 1));
            buffer[byteIndex] |= (byte)(chunk << bitOffset);
            written += take;
            bitPos += take;
        }
    }

    private static ulong ReadBits(ReadOnlySpan<byte> buffer, long bitPos, int bits)
    {
        ulong value = 0;
        for (int read = 0; read < bits;)
        {
            int byteIndex = (int)(bitPos >> 3), bitOffset = (int)(bitPos & 7);
            int take = Math.Min(8 - bitOffset, bits - read);
            ulong chunk = (ulong)(buffer[byteIndex] >> bitOffset) & ((1UL << take) - 1);
            value |= chunk << read;
            read += take;
            bitPos += take;
        }
        return value;
    }
}
