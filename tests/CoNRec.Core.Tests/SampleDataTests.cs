using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public sealed class SampleDataTests : IDisposable
{
    private readonly List<string> _dirs = [];

    private string NewDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "conrec-sample-" + Guid.NewGuid().ToString("N"));
        _dirs.Add(dir);
        return dir;
    }

    public void Dispose()
    {
        foreach (var d in _dirs)
        {
            try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static readonly string[] Files = ["codebook.safetensors", "catalog.jsonl", "predictions.jsonl"];

    private static List<(long Line, byte[] Bytes)> ReadAll(string path)
    {
        using var stream = File.OpenRead(path);
        return JsonlInput.ReadLines(stream, path).ToList();
    }

    [Theory]
    [InlineData(50, 500, 3, 32, 16, 20, 7)]
    [InlineData(3, 10, 1, 1, 1, 5, 1)]
    [InlineData(7, 40, 4, 300, 8, 255, 12345)]
    [InlineData(1, 1, 8, 256, 3, 1, -3)]
    public void Write_produces_consistent_codebook_catalog_and_predictions(int users, int items, int levels, int codes, int dim, int sidsPerUser, int seed)
    {
        var spec = new SampleData.Spec(users, items, levels, codes, dim, sidsPerUser, seed);
        var dir = NewDir(); // Write must create it
        SampleData.Write(dir, spec);
        foreach (var f in Files) Assert.True(File.Exists(Path.Combine(dir, f)), f);

        var cb = Codebook.Load(Path.Combine(dir, "codebook.safetensors"));
        Assert.Equal(levels, cb.Levels);
        Assert.Equal(codes, cb.CodesPerLevel);
        Assert.Equal(dim, cb.Dimension);
        var file = SafeTensorsFile.Load(Path.Combine(dir, "codebook.safetensors"));
        Assert.Equal(seed.ToString(System.Globalization.CultureInfo.InvariantCulture), file.Metadata["seed"]);

        var catalogLines = ReadAll(Path.Combine(dir, "catalog.jsonl"));
        Assert.Equal(items, catalogLines.Count);
        var catalogSids = new HashSet<ulong>();
        var itemIds = new HashSet<string>();
        for (int i = 0; i < catalogLines.Count; i++)
        {
            var (line, bytes) = catalogLines[i];
            Assert.Equal(i + 1, line); // no blank lines
            var entry = JsonlInput.ParseCatalogLine(bytes, cb.Layout, "catalog.jsonl", line);
            Assert.Equal("i" + i, entry.ItemId);
            Assert.True(cb.Layout.IsValidPacked(entry.Sid));
            Assert.True(itemIds.Add(entry.ItemId));
            catalogSids.Add(entry.Sid);
        }

        var predictionLines = ReadAll(Path.Combine(dir, "predictions.jsonl"));
        Assert.Equal(users, predictionLines.Count);
        for (int u = 0; u < predictionLines.Count; u++)
        {
            var (line, bytes) = predictionLines[u];
            var p = JsonlInput.ParsePredictionLine(bytes, cb.Layout, "predictions.jsonl", line);
            Assert.Equal("u" + u, p.UserId);
            Assert.Equal(sidsPerUser, p.Sids.Length);
            Assert.All(p.Sids, s => Assert.Contains(s, catalogSids));
            Assert.NotNull(p.Scores);
            Assert.Equal(sidsPerUser, p.Scores.Length);
            // The predictions also fit a stored SID set.
            var encoded = SidSetCodec.Encode(cb.Layout, p.Sids);
            var back = new ulong[SidSetCodec.MaxCount];
            Assert.Null(SidSetCodec.TryDecode(encoded, cb.Layout, back, out int n));
            Assert.Equal(p.Sids, back[..n]);
        }
    }

    [Fact]
    public void Default_spec_matches_the_documented_defaults()
    {
        var spec = new SampleData.Spec();
        Assert.Equal(new SampleData.Spec(50, 500, 3, 32, 16, 20, 7), spec);
    }

    [Fact]
    public void Codebook_levels_shrink_by_half()
    {
        // Codewords at level l are Gaussian * 2^-l: the mean |value| should fall roughly by half per level.
        var spec = new SampleData.Spec(Levels: 3, Codes: 64, Dimension: 32);
        var cb = SampleData.WriteCodebook(Path.Combine(Directory.CreateDirectory(NewDir()).FullName, "cb.safetensors"), spec);
        var mean = new double[3];
        for (int l = 0; l < 3; l++)
        {
            for (int k = 0; k < 64; k++)
                foreach (var v in cb.Codeword(l, k)) mean[l] += Math.Abs(v);
            mean[l] /= 64 * 32;
        }
        Assert.InRange(mean[0], 0.7, 0.9); // E|N(0,1)| = 0.798
        Assert.InRange(mean[1] / mean[0], 0.4, 0.6);
        Assert.InRange(mean[2] / mean[1], 0.4, 0.6);
    }

    [Fact]
    public void Same_seed_gives_byte_identical_files()
    {
        var spec = new SampleData.Spec(Users: 20, Items: 100, Seed: 11);
        var a = NewDir();
        var b = NewDir();
        SampleData.Write(a, spec);
        SampleData.Write(b, spec);
        foreach (var f in Files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
        Assert.Equal(Codebook.Load(Path.Combine(a, Files[0])).ContentHash, Codebook.Load(Path.Combine(b, Files[0])).ContentHash);
    }

    [Fact]
    public void Writing_twice_into_the_same_directory_overwrites()
    {
        var dir = NewDir();
        SampleData.Write(dir, new SampleData.Spec(Users: 30, Items: 200, Seed: 1));
        var first = Files.Select(f => File.ReadAllBytes(Path.Combine(dir, f))).ToList();
        SampleData.Write(dir, new SampleData.Spec(Users: 5, Items: 10, Seed: 2));
        SampleData.Write(dir, new SampleData.Spec(Users: 30, Items: 200, Seed: 1));
        for (int i = 0; i < Files.Length; i++) Assert.Equal(first[i], File.ReadAllBytes(Path.Combine(dir, Files[i])));
    }

    [Fact]
    public void Different_seed_gives_different_files()
    {
        var a = NewDir();
        var b = NewDir();
        SampleData.Write(a, new SampleData.Spec(Users: 20, Items: 100, Seed: 11));
        SampleData.Write(b, new SampleData.Spec(Users: 20, Items: 100, Seed: 12));
        foreach (var f in Files)
            Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
        Assert.NotEqual(Codebook.Load(Path.Combine(a, Files[0])).ContentHash, Codebook.Load(Path.Combine(b, Files[0])).ContentHash);
    }

    [Fact]
    public void Gaussian_is_deterministic_and_roughly_standard_normal()
    {
        var r1 = new Random(3);
        var r2 = new Random(3);
        var xs = Enumerable.Range(0, 20_000).Select(_ => (double)SampleData.Gaussian(r1)).ToArray();
        var ys = Enumerable.Range(0, 20_000).Select(_ => (double)SampleData.Gaussian(r2)).ToArray();
        Assert.Equal(xs, ys);
        Assert.All(xs, x => Assert.True(double.IsFinite(x)));
        double mean = xs.Average();
        double variance = xs.Select(x => (x - mean) * (x - mean)).Average();
        Assert.InRange(mean, -0.05, 0.05);
        Assert.InRange(variance, 0.9, 1.1);
    }
}
