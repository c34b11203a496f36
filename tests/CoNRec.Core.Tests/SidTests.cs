using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class SidTests
{
    // ---------------------------------------------------------------- SidLayout

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(8, 3)]
    [InlineData(256, 8)]
    [InlineData(257, 9)]
    [InlineData(8192, 13)]
    [InlineData(8193, 14)]
    [InlineData(1 << 20, 20)]
    public void BitsPerCode_is_the_smallest_width_that_holds_K_minus_1(int k, int bits)
    {
        var layout = new SidLayout(1, k);
        Assert.Equal(bits, layout.BitsPerCode);
        Assert.Equal(k, layout.CodesPerLevel);
        Assert.Equal(1, layout.Levels);
        Assert.Equal(bits, layout.BitsPerSid);
    }

    [Fact]
    public void BitsPerSid_is_levels_times_bits()
    {
        Assert.Equal(39, new SidLayout(3, 8192).BitsPerSid);
        Assert.Equal(64, new SidLayout(8, 256).BitsPerSid);
        Assert.Equal(60, new SidLayout(3, 1 << 20).BitsPerSid);
    }

    [Theory]
    [InlineData(0, 256)]
    [InlineData(9, 2)]
    [InlineData(-1, 256)]
    [InlineData(1, 0)]
    [InlineData(1, (1 << 20) + 1)]
    [InlineData(8, 1 << 20)] // 8 x 20 = 160 bits
    [InlineData(4, 1 << 20)] // 4 x 20 = 80 bits
    [InlineData(8, 257)]     // 8 x 9 = 72 bits
    [InlineData(5, 8193)]    // 5 x 14 = 70 bits
    public void Constructor_rejects_invalid_layouts(int levels, int k)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SidLayout(levels, k));
    }

    [Fact]
    public void Constructor_names_the_64_bit_limit()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SidLayout(8, 1 << 20));
        Assert.Contains("64 bits", e.Message);
        Assert.Contains("20 bits", e.Message);
    }

    [Fact]
    public void Exactly_64_bits_is_allowed()
    {
        var layout = new SidLayout(8, 256);
        Span<uint> codes = [255, 255, 255, 255, 255, 255, 255, 255];
        Assert.Equal(ulong.MaxValue, layout.Pack(codes));
        Assert.True(layout.IsValidPacked(ulong.MaxValue));
        Assert.Equal("[255,255,255,255,255,255,255,255]", layout.Format(ulong.MaxValue));
    }

    [Fact]
    public void Validate_accepts_valid_codes()
    {
        var layout = new SidLayout(3, 32);
        Assert.Null(layout.Validate([0u, 31u, 5u]));
    }

    [Fact]
    public void Validate_names_the_level_and_the_limit()
    {
        var layout = new SidLayout(3, 32);
        var error = layout.Validate([1u, 2u, 32u]);
        Assert.NotNull(error);
        Assert.Contains("sid[2]", error);
        Assert.Contains("32", error);
        Assert.Contains("< 32", error);

        var error0 = layout.Validate([uint.MaxValue, 0u, 0u], "sids[4]");
        Assert.Contains("sids[4][0]", error0);
    }

    [Fact]
    public void Validate_rejects_the_wrong_number_of_codes()
    {
        var layout = new SidLayout(3, 32);
        var error = layout.Validate([1u, 2u]);
        Assert.NotNull(error);
        Assert.Contains("'sid' has 2 codes", error);
        Assert.Contains("expected 3", error);
        Assert.NotNull(layout.Validate([1u, 2u, 3u, 4u]));
        Assert.NotNull(layout.Validate([]));
    }

    [Fact]
    public void Pack_puts_level_zero_in_the_low_bits()
    {
        // K=8 -> 3 bits. codes (1, 2, 3) -> 1 | 2<<3 | 3<<6 = 1 + 16 + 192 = 209.
        var layout = new SidLayout(3, 8);
        Assert.Equal(209UL, layout.Pack([1u, 2u, 3u]));
        // K=8192 -> 13 bits. codes (8191, 0, 1) -> 8191 + 1<<26.
        Assert.Equal(8191UL + (1UL << 26), new SidLayout(3, 8192).Pack([8191u, 0u, 1u]));
    }

    [Fact]
    public void Pack_rejects_invalid_codes()
    {
        var layout = new SidLayout(3, 8);
        var e = Assert.Throws<ArgumentException>(() => layout.Pack([1u, 8u, 0u]));
        Assert.Contains("sid[1]", e.Message);
        Assert.Throws<ArgumentException>(() => layout.Pack([1u, 2u]));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(3, 256)]
    [InlineData(3, 8192)]
    [InlineData(4, 300)]
    [InlineData(8, 256)]
    [InlineData(3, 1 << 20)]
    [InlineData(6, 1000)]
    public void Pack_Unpack_round_trips_random_sids(int levels, int k)
    {
        var layout = new SidLayout(levels, k);
        var rng = new Random(levels * 31 + k);
        var codes = new uint[levels];
        var back = new uint[levels];
        var seen = new HashSet<ulong>();
        var seenCodes = new HashSet<string>();
        for (int trial = 0; trial < 500; trial++)
        {
            for (int l = 0; l < levels; l++) codes[l] = (uint)rng.Next(k);
            ulong packed = layout.Pack(codes);
            Assert.True(layout.IsValidPacked(packed));
            if (layout.BitsPerSid < 64) Assert.True(packed < 1UL << layout.BitsPerSid);
            layout.Unpack(packed, back);
            Assert.Equal(codes, back);
            Assert.Equal("[" + string.Join(",", codes) + "]", layout.Format(packed));
            // Packing is injective: distinct code tuples never collide.
            Assert.Equal(seenCodes.Add(string.Join(",", codes)), seen.Add(packed));
        }
    }

    [Fact]
    public void IsValidPacked_rejects_codes_at_or_above_K_and_high_bits()
    {
        var layout = new SidLayout(2, 5); // 3 bits per code, 6 bits per SID
        Assert.True(layout.IsValidPacked(0b100_100)); // (4, 4)
        Assert.False(layout.IsValidPacked(0b000_101)); // level 0 = 5
        Assert.False(layout.IsValidPacked(0b111_000)); // level 1 = 7
        Assert.False(layout.IsValidPacked(1UL << 6)); // beyond the SID's bits
        Assert.False(layout.IsValidPacked(1UL << 63));
    }

    // ---------------------------------------------------------------- SidSetCodec

    private static ulong[] RandomSids(SidLayout layout, int count, int seed)
    {
        var rng = new Random(seed);
        var codes = new uint[layout.Levels];
        var sids = new ulong[count];
        for (int i = 0; i < count; i++)
        {
            for (int l = 0; l < layout.Levels; l++) codes[l] = (uint)rng.Next(layout.CodesPerLevel);
            sids[i] = layout.Pack(codes);
        }
        return sids;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(20)]
    [InlineData(255)]
    public void Encode_TryDecode_round_trips(int count)
    {
        foreach (var layout in new[] { new SidLayout(3, 8192), new SidLayout(3, 5), new SidLayout(8, 256), new SidLayout(1, 1), new SidLayout(2, 1 << 20) })
        {
            var sids = RandomSids(layout, count, count + layout.BitsPerSid);
            var bytes = SidSetCodec.Encode(layout, sids);
            // Header: version 1, L, bits, count.
            Assert.Equal(1, bytes[0]);
            Assert.Equal(layout.Levels, bytes[1]);
            Assert.Equal(layout.BitsPerCode, bytes[2]);
            Assert.Equal(count, bytes[3]);
            Assert.Equal(4 + ((count * layout.BitsPerSid) + 7) / 8, bytes.Length);

            var dest = new ulong[SidSetCodec.MaxCount];
            var error = SidSetCodec.TryDecode(bytes, layout, dest, out int n);
            Assert.Null(error);
            Assert.Equal(count, n);
            Assert.Equal(sids, dest[..n]);
        }
    }

    [Fact]
    public void Encoded_length_of_20_sids_at_L3_K8192_is_102_bytes()
    {
        // 3 x 13 = 39 bits per SID; 20 x 39 = 780 bits = 97.5 -> 98 bytes; + 4 header = 102.
        var layout = new SidLayout(3, 8192);
        Assert.Equal(102, SidSetCodec.EncodedLength(layout, 20));
        Assert.Equal(102, SidSetCodec.Encode(layout, RandomSids(layout, 20, 1)).Length);
        Assert.Equal(4, SidSetCodec.EncodedLength(layout, 0));
        Assert.Equal(9, SidSetCodec.EncodedLength(layout, 1)); // 39 bits -> 5 bytes
    }

    [Fact]
    public void Encode_writes_a_little_endian_bit_stream()
    {
        // L=1, K=8 (3 bits). SIDs 5 (101), 3 (011), 7 (111):
        // bits in stream order (LSB first): 1,0,1 | 1,1,0 | 1,1,1 -> byte0 bits0-7 = 1,0,1,1,1,0,1,1 = 0b11011101 = 0xDD,
        // byte1 bit0 = 1 -> 0x01.
        var layout = new SidLayout(1, 8);
        var bytes = SidSetCodec.Encode(layout, [5UL, 3UL, 7UL]);
        Assert.Equal(new byte[] { 1, 1, 3, 3, 0xDD, 0x01 }, bytes);
    }

    [Fact]
    public void Encode_into_a_span_returns_the_length_and_clears_stale_bytes()
    {
        var layout = new SidLayout(1, 8);
        var buffer = new byte[10];
        Array.Fill(buffer, (byte)0xFF);
        int length = SidSetCodec.Encode(layout, [5UL, 3UL, 7UL], buffer);
        Assert.Equal(6, length);
        Assert.Equal(new byte[] { 1, 1, 3, 3, 0xDD, 0x01 }, buffer[..6]);
        Assert.Throws<ArgumentException>(() => SidSetCodec.Encode(layout, [5UL, 3UL, 7UL], new byte[5]));
    }

    [Fact]
    public void Encode_rejects_256_sids()
    {
        var layout = new SidLayout(3, 8192);
        var e = Assert.Throws<ArgumentException>(() => SidSetCodec.Encode(layout, new ulong[256]));
        Assert.Contains("255", e.Message);
        Assert.Contains("256", e.Message);
    }

    [Fact]
    public void Encode_rejects_invalid_sids()
    {
        var layout = new SidLayout(1, 5); // 3 bits; 5..7 are invalid codes
        Assert.Throws<ArgumentException>(() => SidSetCodec.Encode(layout, [1UL, 7UL]));
        Assert.Throws<ArgumentException>(() => SidSetCodec.Encode(layout, [1UL << 3]));
    }

    private static string Decode(byte[] value, SidLayout layout, int capacity = SidSetCodec.MaxCount)
    {
        var dest = new ulong[capacity];
        string? error = null;
        int count = -1;
        var ex = Record.Exception(() => error = SidSetCodec.TryDecode(value, layout, dest, out count));
        Assert.Null(ex);
        Assert.NotNull(error);
        Assert.Equal(0, count);
        return error!;
    }

    [Fact]
    public void TryDecode_reports_malformed_values_without_throwing()
    {
        var layout = new SidLayout(3, 8192);
        var good = SidSetCodec.Encode(layout, RandomSids(layout, 3, 5)); // 4 + ceil(117/8)=15 -> 19 bytes
        Assert.Equal(19, good.Length);

        Assert.Contains("0 bytes", Decode([], layout));
        Assert.Contains("3 bytes", Decode([1, 3, 13], layout));

        var v2 = (byte[])good.Clone(); v2[0] = 2;
        Assert.Contains("version 2", Decode(v2, layout));

        var levels = (byte[])good.Clone(); levels[1] = 4;
        Assert.Contains("4 levels", Decode(levels, layout));

        var bits = (byte[])good.Clone(); bits[2] = 12;
        Assert.Contains("12 bits", Decode(bits, layout));

        Assert.Contains("18 bytes", Decode(good[..^1], layout));

        var extra = new byte[good.Length + 1];
        good.CopyTo(extra, 0);
        Assert.Contains("20 bytes", Decode(extra, layout));

        // Header claims more SIDs than the payload holds.
        var more = (byte[])good.Clone(); more[3] = 4;
        Assert.Contains("need", Decode(more, layout));

        // Decoded against a different layout with the same L but a different width.
        Assert.NotNull(Decode(good, new SidLayout(3, 4096)));

        // Destination too small.
        Assert.Contains("buffer", Decode(good, layout, capacity: 2));
    }

    [Fact]
    public void TryDecode_rejects_a_code_at_or_above_K()
    {
        // K=5 needs 3 bits; hand-write L=1, 2 SIDs: 4 (valid) then 7 (invalid).
        // Stream: 0,0,1 | 1,1,1 -> byte = 0b00111100 = 0x3C.
        var layout = new SidLayout(1, 5);
        byte[] value = [1, 1, 3, 2, 0x3C];
        var error = Decode(value, layout);
        Assert.Contains("#1", error);
        Assert.Contains(">= 5", error);

        // Sanity check on the hand encoding: with code 4 twice (0,0,1|0,0,1 = 0b00100100 = 0x24) it decodes.
        var dest = new ulong[2];
        Assert.Null(SidSetCodec.TryDecode([1, 1, 3, 2, 0x24], layout, dest, out int n));
        Assert.Equal(2, n);
        Assert.Equal([4UL, 4UL], dest);
    }

    [Fact]
    public void TryDecode_of_a_code_above_K_at_a_higher_level()
    {
        // L=2, K=5: SID (1, 6) -> bits 1,0,0 | 0,1,1 -> 0b11_0001 = 0x31.
        var layout = new SidLayout(2, 5);
        var error = Decode([1, 2, 3, 1, 0x31], layout);
        Assert.Contains("#0", error);
    }

    [Fact]
    public void TryDecode_of_random_garbage_never_throws()
    {
        var layout = new SidLayout(3, 100);
        var rng = new Random(123);
        var dest = new ulong[SidSetCodec.MaxCount];
        for (int i = 0; i < 2000; i++)
        {
            var value = new byte[rng.Next(0, 40)];
            rng.NextBytes(value);
            if (value.Length >= 4 && i % 2 == 0) { value[0] = 1; value[1] = 3; value[2] = 7; value[3] = (byte)((value.Length - 4) * 8 / 21); }
            var error = SidSetCodec.TryDecode(value, layout, dest, out int count);
            if (error is null)
            {
                for (int j = 0; j < count; j++) Assert.True(layout.IsValidPacked(dest[j]));
            }
            else Assert.Equal(0, count);
        }
    }
}
