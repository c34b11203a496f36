using CoNRec.Core;
using CoNRec.Offline.Data;
using Xunit;

namespace CoNRec.Offline.Tests;

public class DatasetFilesTests
{
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private const string Items = """
        {"item_id":"i1","title":"Toy Story","categories":["Animation","Comedy"],"numbers":{"year":1995}}
        {"item_id":"i2","title":"Nénette","categories":[],"numbers":{}}
        """;

    private static void Write(TempDir dir, string items, string interactions)
    {
        File.WriteAllText(dir.File(DatasetFiles.ItemsFile), items);
        File.WriteAllText(dir.File(DatasetFiles.InteractionsFile), interactions);
    }

    [Fact]
    public void Save_then_load_round_trips_every_field()
    {
        var ds = InteractionDataset.Create("x",
            [
                new ItemFeatures("i1", "Toy \"Story\"", ["a/b", "c"], new Dictionary<string, double> { ["year"] = 1995, ["price"] = 9.99 }),
                new ItemFeatures("i2", "Nénette", [], new Dictionary<string, double>()),
            ],
            [
                new Interaction("u1", "i1", T0.AddTicks(1234567), FeedbackKind.Negative, "rating 1", 1),
                new Interaction("u2", "i2", T0, FeedbackKind.Purchase),
                new Interaction("u2", "i1", T0.AddDays(1), FeedbackKind.Rating, null, 3.5),
            ]);
        using var dir = new TempDir();
        DatasetFiles.Save(ds, dir.Path);
        var back = DatasetFiles.Load(dir.Path, "y");

        Assert.Equal("y", back.Name);
        Assert.Equal(2, back.Items.Count);
        Assert.Equal("Toy \"Story\"", back.Items[0].Title);
        Assert.Equal(["a/b", "c"], back.Items[0].Categories);
        Assert.Equal(9.99, back.Items[0].Numbers["price"]);
        Assert.Equal(1995, back.Items[0].Numbers["year"]);
        Assert.Equal("Nénette", back.Items[1].Title);
        Assert.Equal(ds.Interactions, back.Interactions);
        // Non-ASCII stays readable in the file rather than \u-escaped.
        Assert.Contains("Nénette", File.ReadAllText(dir.File(DatasetFiles.ItemsFile)));
        Assert.Contains("\"ts\":\"2024-03-01T12:00:00.1234567Z\"", File.ReadAllText(dir.File(DatasetFiles.InteractionsFile)));
    }

    [Fact]
    public void Timestamps_may_be_iso_strings_or_unix_seconds_and_name_defaults_to_directory()
    {
        using var dir = new TempDir();
        Write(dir, Items, """
            {"user_id":"u1","item_id":"i1","ts":1700000000,"kind":"click","extra":[1,2]}

            {"user_id":"u1","item_id":"i2","ts":"2023-11-14T22:13:21+01:00","kind":"rating","rating":4}
            """);
        var ds = DatasetFiles.Load(dir.Path);
        Assert.Equal(Path.GetFileName(dir.Path), ds.Name);
        // 1700000000 = 2023-11-14T22:13:20Z; the second row is 21:13:21Z, so it sorts first.
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 21, 13, 21, TimeSpan.Zero), ds.Interactions[0].Timestamp);
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), ds.Interactions[1].Timestamp);
        Assert.True(ds.Interactions[0].IsPositive);
    }

    [Theory]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":1,"kind":"like"}""", "'kind' must be one of")]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":1,"kind":"rating","rating":11}""", "'rating' must be a number in [0, 10]")]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":1,"kind":"rating","rating":-0.5}""", "'rating' must be a number in [0, 10]")]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":1,"kind":"rating"}""", "kind 'rating' needs a 'rating'")]
    [InlineData("""{"user_id":"u1","item_id":"i9","ts":1,"kind":"click"}""", "'item_id' 'i9' is not in items.jsonl")]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":"yesterday","kind":"click"}""", "'ts' must be an ISO-8601 string or unix seconds")]
    [InlineData("""{"user_id":"u1","item_id":"i1","ts":1e300,"kind":"click"}""", "'ts' as a number must be finite unix seconds")]
    [InlineData("""{"user_id":"","item_id":"i1","ts":1,"kind":"click"}""", "'user_id' must not be empty")]
    [InlineData("""{"user_id":7,"item_id":"i1","ts":1,"kind":"click"}""", "'user_id' must be a string")]
    [InlineData("""{"item_id":"i1","ts":1,"kind":"click"}""", "missing field 'user_id'")]
    [InlineData("""{"user_id":"u1","item_id":"i1","kind":"click"}""", "missing field 'ts'")]
    [InlineData("{\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":1,\"kind\":\"click\"", "invalid JSON")]
    [InlineData("""[1,2]""", "line must be a JSON object")]
    public void A_bad_interaction_row_is_rejected_with_file_line_and_field(string badRow, string expected)
    {
        using var dir = new TempDir();
        Write(dir, Items, "{\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":1,\"kind\":\"click\"}\n\n" + badRow + "\n");
        var e = Assert.Throws<InputFormatException>(() => DatasetFiles.Load(dir.Path));
        Assert.Equal(3, e.Line); // the blank line 2 still counts
        Assert.EndsWith(DatasetFiles.InteractionsFile, e.FileName);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"{DatasetFiles.InteractionsFile}:3:", e.Message);
    }

    [Fact]
    public void Ids_longer_than_256_bytes_are_rejected()
    {
        using var dir = new TempDir();
        var id = new string('u', 257);
        Write(dir, Items, $"{{\"user_id\":\"{id}\",\"item_id\":\"i1\",\"ts\":1,\"kind\":\"click\"}}");
        var e = Assert.Throws<InputFormatException>(() => DatasetFiles.Load(dir.Path));
        Assert.Contains("'user_id' is longer than 256 bytes", e.Message);
        Assert.Equal(1, e.Line);
    }

    [Theory]
    [InlineData("""{"item_id":"i3","numbers":{"year":"1995"}}""", "'numbers.year' must be a finite number")]
    [InlineData("""{"item_id":"i3","categories":"Comedy"}""", "'categories' must be an array of strings")]
    [InlineData("""{"item_id":"i3","categories":["a",""]}""", "'categories[1]' must be a non-empty string")]
    [InlineData("""{"item_id":"i3","title":5}""", "'title' must be a string")]
    [InlineData("""{"item_id":"i1"}""", "'item_id' 'i1' already appeared on line 1")]
    [InlineData("""{"title":"x"}""", "missing field 'item_id'")]
    public void A_bad_item_row_is_rejected_with_line_and_field(string badRow, string expected)
    {
        using var dir = new TempDir();
        Write(dir, Items + "\n" + badRow, "");
        var e = Assert.Throws<InputFormatException>(() => DatasetFiles.Load(dir.Path));
        Assert.Equal(3, e.Line);
        Assert.EndsWith(DatasetFiles.ItemsFile, e.FileName);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Missing_fields_of_an_item_default_to_empty()
    {
        using var dir = new TempDir();
        Write(dir, """{"item_id":"i1"}""", "");
        var item = Assert.Single(DatasetFiles.Load(dir.Path).Items);
        Assert.Equal("", item.Title);
        Assert.Empty(item.Categories);
        Assert.Empty(item.Numbers);
    }
}
