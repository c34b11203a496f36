namespace CoNRec.Core;

/// <summary>
/// Binary form of a list of SIDs, as stored in Redis hash fields (per-user predictions and catalog entries).
/// Layout: [version=1][levels][bits per code][count] then count × levels × bits, little-endian bit stream,
/// zero-padded to a byte. Self-describing so a reader can reject a value written under another layout
/// instead of silently decoding it with the wrong codebook.
/// </summary>
public static class SidSetCodec
{
    public const byte Version = 1;
    public const int HeaderBytes = 4;
    public const int MaxCount = 255;

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
