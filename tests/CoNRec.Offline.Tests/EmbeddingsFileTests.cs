using System.Text;
using CoNRec.Core;
using CoNRec.Offline.Embeddings;
using Xunit;

namespace CoNRec.Offline.Tests;

public class EmbeddingsFileTests
{
    [Fact]
    public void Save_then_load_is_bit_exact()
    {
        var e = new ItemEmbeddings(["i1", "ï2"], [0.1f, -1e-30f, float.MaxValue, 1f / 3], 2);
        using var dir = new TempDir();
        EmbeddingsFile.Save(e, dir.File("e.jsonl"));
        var back = EmbeddingsFile.Load(dir.File("e.jsonl"));
        Assert.Equal(2, back.Dimension);
        Assert.Equal(["i1", "ï2"], back.ItemIds);
        Assert.Equal(e.Matrix, back.Matrix);
        Assert.StartsWith("{\"item_id\":\"i1\",\"embedding\":[0.1,", File.ReadAllText(dir.File("e.jsonl")));
    }

    [Theory]
    [InlineData("""{"item_id":"b","embedding":[1,2,3]}""", "'embedding' has 3 values; line 1 has 2")]
    [InlineData("""{"item_id":"b","embedding":[1,1e39]}""", "'embedding[1]' must be a finite number")]
    [InlineData("""{"item_id":"b","embedding":[1,"NaN"]}""", "'embedding[1]' must be a finite number")]
    [InlineData("""{"item_id":"b","embedding":[1,NaN]}""", "invalid JSON")]
    [InlineData("""{"item_id":"a","embedding":[1,2]}""", "'item_id' 'a' already appeared on line 1")]
    [InlineData("""{"item_id":"b","embedding":[1,2]""", "invalid JSON")]
    [InlineData("""{"item_id":"b","embedding":[]}""", "'embedding' is empty")]
    [InlineData("""{"item_id":"b"}""", "missing field 'embedding'")]
    [InlineData("""{"embedding":[1,2]}""", "missing field 'item_id'")]
    [InlineData("""{"item_id":"b","embedding":{"x":1}}""", "'embedding' must be an array of numbers")]
    public void Malformed_lines_are_rejected_with_their_line_number(string badLine, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File("e.jsonl");
        File.WriteAllText(path, "{\"item_id\":\"a\",\"embedding\":[0.5,0.25]}\n\n" + badLine + "\n");
        var e = Assert.Throws<InputFormatException>(() => EmbeddingsFile.Load(path));
        Assert.Equal(3, e.Line);
        Assert.Contains(expected, e.Message);
        Assert.Contains("e.jsonl:3:", e.Message);
    }

    [Fact]
    public void Dimension_is_capped_and_an_empty_file_is_an_error()
    {
        using var dir = new TempDir();
        var path = dir.File("e.jsonl");
        var line = new StringBuilder("{\"item_id\":\"a\",\"embedding\":[0");
        for (int i = 0; i < ItemEmbeddings.MaxDimension; i++) line.Append(",0");
        File.WriteAllText(path, line.Append("]}\n").ToString());
        var e = Assert.Throws<InputFormatException>(() => EmbeddingsFile.Load(path));
        Assert.Contains("more than 65536 values", e.Message);
        Assert.Equal(1, e.Line);

        File.WriteAllText(path, "\n\n");
        Assert.Contains("no embeddings", Assert.Throws<InvalidDataException>(() => EmbeddingsFile.Load(path)).Message);
    }

    [Fact]
    public void Embeddings_reject_inconsistent_shapes()
    {
        Assert.Throws<ArgumentException>(() => new ItemEmbeddings(["a"], new float[3], 2));
        Assert.Contains("'a' appears twice", Assert.Throws<ArgumentException>(() => new ItemEmbeddings(["a", "a"], new float[4], 2)).Message);
    }
}
