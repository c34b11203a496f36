using System.Security.Cryptography;
using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class CodebookTests
{
    // L=2, K=2, d=2: level0 = [[3,0],[0,1]], level1 = [[0,4],[1,1]].
    private static readonly float[] Small = [3, 0, 0, 1, 0, 4, 1, 1];

    private static byte[] CodebookBytes(SafeTensorsWriter.Entry entry) => SafeTensorsWriter.ToBytes([entry]);

    private static SafeTensorsFormatException FromBytesFails(byte[] bytes)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => Codebook.FromBytes(bytes, "cb.safetensors"));
        Assert.StartsWith("cb.safetensors:", e.Message);
        return e;
    }

    [Fact]
    public void Create_exposes_layout_dimension_and_codewords()
    {
        var cb = Codebook.Create(2, 2, 2, Small);
        Assert.Equal(2, cb.Levels);
        Assert.Equal(2, cb.CodesPerLevel);
        Assert.Equal(2, cb.Dimension);
        Assert.Equal(new SidLayout(2, 2), cb.Layout);
        Assert.Equal([3f, 0f], cb.Codeword(0, 0).ToArray());
        Assert.Equal([0f, 1f], cb.Codeword(0, 1).ToArray());
        Assert.Equal([0f, 4f], cb.Codeword(1, 0).ToArray());
        Assert.Equal([1f, 1f], cb.Codeword(1, 1).ToArray());
    }

    [Fact]
    public void Missing_codebooks_tensor_is_named()
    {
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("weights", [1, 1, 1], [1f])));
        Assert.Contains("'codebooks'", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Rank_two_tensor_is_rejected()
    {
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("codebooks", [2, 4], new float[8])));
        Assert.Contains("[2,4]", e.Message);
        Assert.Contains("[L, K, d]", e.Message);
    }

    [Fact]
    public void Rank_four_tensor_is_rejected()
    {
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("codebooks", [1, 1, 2, 2], new float[4])));
        Assert.Contains("[L, K, d]", e.Message);
    }

    [Fact]
    public void Integer_dtype_is_rejected()
    {
        var bytes = SafeTensorsTests.RawFile("""{"codebooks":{"dtype":"I32","shape":[1,1,1],"data_offsets":[0,4]}}""", new byte[4]);
        var e = FromBytesFails(bytes);
        Assert.Contains("I32", e.Message);
        Assert.Contains("F32", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_value_is_reported_with_its_index(float bad)
    {
        // L=2, K=2, d=3: flat index of [1,0,2] is 1*(2*3) + 0*3 + 2 = 8.
        var values = new float[12];
        values[8] = bad;
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("codebooks", [2, 2, 3], values)));
        Assert.Contains("codebooks[1,0,2]", e.Message);
        Assert.Contains("not finite", e.Message);
    }

    [Fact]
    public void Non_finite_value_index_uses_code_and_dim_too()
    {
        // L=3, K=4, d=5: [2,3,1] -> 2*20 + 3*5 + 1 = 56.
        var values = new float[60];
        values[56] = float.NaN;
        var e = Assert.Throws<SafeTensorsFormatException>(() => Codebook.Create(3, 4, 5, values));
        Assert.Contains("codebooks[2,3,1]", e.Message);
    }

    [Fact]
    public void Infinity_in_f16_is_rejected()
    {
        var values = new float[4];
        values[3] = 70000f; // overflows binary16 to +Inf
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F16("codebooks", [1, 2, 2], values)));
        Assert.Contains("codebooks[0,1,1]", e.Message);
    }

    [Theory]
    [InlineData(0, 1, 1, "L = 0")]
    [InlineData(9, 1, 1, "L = 9")]
    [InlineData(1, 0, 1, "K = 0")]
    [InlineData(1, 1, 0, "d = 0")]
    public void Out_of_range_sizes_are_rejected(int l, int k, int d, string expected)
    {
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("codebooks", [l, k, d], new float[l * k * d])));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Layout_that_does_not_fit_64_bits_is_a_format_error()
    {
        // 8 levels x 9 bits (K=257) = 72 bits.
        var e = FromBytesFails(CodebookBytes(SafeTensorsWriter.F32("codebooks", [8, 257, 1], new float[8 * 257])));
        Assert.Contains("64 bits", e.Message);
    }

    [Fact]
    public void Reconstruct_sums_levels_and_normalises()
    {
        var cb = Codebook.Create(2, 2, 2, Small);
        var dest = new float[2];

        // SID (0,0): [3,0] + [0,4] = [3,4]; |.| = 5 -> (0.6, 0.8).
        cb.Reconstruct([0u, 0u], dest);
        Assert.Equal(0.6f, dest[0], 1e-6f);
        Assert.Equal(0.8f, dest[1], 1e-6f);

        // SID (1,1): [0,1] + [1,1] = [1,2]; |.| = sqrt(5).
        cb.Reconstruct([1u, 1u], dest);
        Assert.Equal(1 / Math.Sqrt(5), dest[0], 1e-6);
        Assert.Equal(2 / Math.Sqrt(5), dest[1], 1e-6);

        // SID (1,0): [0,1] + [0,4] = [0,5] -> (0, 1).
        cb.Reconstruct([1u, 0u], dest);
        Assert.Equal(0f, dest[0], 1e-6f);
        Assert.Equal(1f, dest[1], 1e-6f);

        // SID (0,1): [3,0] + [1,1] = [4,1] -> (4, 1)/sqrt(17).
        cb.Reconstruct([0u, 1u], dest);
        Assert.Equal(4 / Math.Sqrt(17), dest[0], 1e-6);
        Assert.Equal(1 / Math.Sqrt(17), dest[1], 1e-6);
    }

    [Fact]
    public void Reconstruct_from_packed_sid_matches_codes()
    {
        var cb = Codebook.Create(2, 2, 2, Small);
        var dest = new float[2];
        // Level 0 in the low bit: packed 0b10 = codes (0, 1) -> [4,1]/sqrt(17).
        cb.Reconstruct(0b10UL, dest);
        Assert.Equal(4 / Math.Sqrt(17), dest[0], 1e-6);
        Assert.Equal(1 / Math.Sqrt(17), dest[1], 1e-6);
        cb.Reconstruct(cb.Layout.Pack([1u, 1u]), dest);
        Assert.Equal(1 / Math.Sqrt(5), dest[0], 1e-6);
    }

    [Fact]
    public void Reconstruct_writes_only_the_first_d_floats()
    {
        var cb = Codebook.Create(2, 2, 2, Small);
        var dest = new float[] { 9, 9, 9, 9 };
        cb.Reconstruct([0u, 0u], dest);
        Assert.Equal(9f, dest[2]);
        Assert.Equal(9f, dest[3]);
    }

    [Fact]
    public void Reconstruct_of_a_zero_sum_stays_zero()
    {
        // Level0 code1 = (1,2), level1 code1 = (-1,-2): SID (1,1) sums to exactly zero.
        float[] values = [5, 5, 1, 2, 0, 3, -1, -2];
        var cb = Codebook.Create(2, 2, 2, values);
        var dest = new float[] { 7, 7 };
        cb.Reconstruct([1u, 1u], dest);
        Assert.Equal([0f, 0f], dest);
        Assert.DoesNotContain(dest, float.IsNaN);
    }

    [Fact]
    public void Reconstruct_single_level_normalises_the_codeword()
    {
        var cb = Codebook.Create(1, 3, 3, [2, 0, 0, 0, 0, -7, 1, 2, 2]);
        var dest = new float[3];
        cb.Reconstruct([2u], dest); // (1,2,2)/3
        Assert.Equal(1 / 3.0, dest[0], 1e-6);
        Assert.Equal(2 / 3.0, dest[1], 1e-6);
        Assert.Equal(2 / 3.0, dest[2], 1e-6);
        cb.Reconstruct([1u], dest); // (0,0,-1)
        Assert.Equal(-1f, dest[2], 1e-6f);
    }

    [Fact]
    public void F16_and_BF16_codebooks_load_to_the_same_f32_values()
    {
        // Every value is exact in f16 and bf16 (at most 8 significant bits).
        float[] values = [3, 0, 0, 1, 0, 4, 1, 1, -0.5f, 0.25f, 1.5f, -2];
        var f32 = Codebook.FromBytes(CodebookBytes(SafeTensorsWriter.F32("codebooks", [2, 2, 3], values)), "f32");
        var f16 = Codebook.FromBytes(CodebookBytes(SafeTensorsWriter.F16("codebooks", [2, 2, 3], values)), "f16");
        var bf16 = Codebook.FromBytes(CodebookBytes(SafeTensorsWriter.BF16("codebooks", [2, 2, 3], values)), "bf16");
        foreach (var cb in new[] { f32, f16, bf16 })
        {
            Assert.Equal(new SidLayout(2, 2), cb.Layout);
            Assert.Equal(3, cb.Dimension);
            for (int l = 0; l < 2; l++)
                for (int k = 0; k < 2; k++)
                    Assert.Equal(values.AsSpan((l * 2 + k) * 3, 3).ToArray(), cb.Codeword(l, k).ToArray());
        }
        // Different bytes, different hashes.
        Assert.NotEqual(f32.ContentHash, f16.ContentHash);
        Assert.NotEqual(f16.ContentHash, bf16.ContentHash);
    }

    [Fact]
    public void ContentHash_is_lowercase_hex_sha256_of_the_bytes()
    {
        var bytes = CodebookBytes(SafeTensorsWriter.F32("codebooks", [2, 2, 2], Small));
        var cb = Codebook.FromBytes(bytes, "hash");

        var expected = string.Concat(SHA256.HashData(bytes).Select(b => b.ToString("x2")));
        Assert.Equal(64, cb.ContentHash.Length);
        Assert.Equal(expected, cb.ContentHash);
        Assert.Equal(cb.ContentHash.ToLowerInvariant(), cb.ContentHash);
        Assert.Equal(bytes, cb.SourceBytes.ToArray());
        Assert.Equal(expected, Codebook.HashOf(bytes));

        // Create serialises the same way, so it hashes the same.
        Assert.Equal(expected, Codebook.Create(2, 2, 2, Small).ContentHash);

        // Flip one byte of the data section (still a finite float): different hash.
        var changed = (byte[])bytes.Clone();
        changed[^1] ^= 0x01; // last byte of the last f32 (1.0f = 00 00 80 3F -> 00 00 80 3E = 0.25f)
        var cb2 = Codebook.FromBytes(changed, "hash2");
        Assert.NotEqual(cb.ContentHash, cb2.ContentHash);
        Assert.Equal(string.Concat(SHA256.HashData(changed).Select(b => b.ToString("x2"))), cb2.ContentHash);
        Assert.Equal(0.25f, cb2.Codeword(1, 1)[1]);
    }

    [Fact]
    public void Load_reads_from_disk_and_reports_missing_files()
    {
        var path = Path.Combine(Path.GetTempPath(), "conrec-cb-" + Guid.NewGuid().ToString("N") + ".safetensors");
        var bytes = CodebookBytes(SafeTensorsWriter.F32("codebooks", [2, 2, 2], Small));
        try
        {
            File.WriteAllBytes(path, bytes);
            var cb = Codebook.Load(path);
            Assert.Equal(Codebook.HashOf(bytes), cb.ContentHash);
            Assert.Equal(2, cb.Dimension);
        }
        finally { File.Delete(path); }
        var e = Assert.Throws<SafeTensorsFormatException>(() => Codebook.Load(path));
        Assert.Contains(path, e.Message);
    }
}
