using System.Text;
using CoNRec.Batch.Histories;
using CoNRec.Model.Prompting;
using Xunit;

namespace CoNRec.Batch.Tests;

public sealed class JsonlHistoryTests
{
    private const string Source = "histories.jsonl";

    private static List<HistoryRecord> Read(string text) =>
        [.. HistoryReader.ReadJsonl(new MemoryStream(Encoding.UTF8.GetBytes(text)), Source)];

    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) => new(y, mo, d, h, mi, s, TimeSpan.Zero);

    [Fact]
    public void Valid_lines_parse_with_both_timestamp_forms()
    {
        var records = Read("""
            {"user_id": "u7", "negatives": [{"item_id": "i1", "ts": 1700000000, "reason": "not_interested"}], "positives": [{"item_id": "i2", "ts": "2024-05-01T10:00:00Z", "type": "click"}]}
            {"user_id": "u8", "extra": {"nested": [1, 2]}, "positives": [{"item_id": "i3", "ts": 1700000000.25, "type": null, "weight": 3}, {"item_id": "i4", "ts": "2024-05-01T12:00:00+02:00"}, {"item_id": "i5", "ts": "2024-05-01T10:00:00"}]}
            {"user_id": "u9", "negatives": null}
            """);
        Assert.All(records, r => Assert.True(r.IsValid, r.Message));
        Assert.Equal([1L, 2, 3], records.Select(r => r.Line));

        var u7 = records[0].History!;
        Assert.Equal("u7", u7.UserId);
        Assert.Equal(new HistoryEvent("i1", DateTimeOffset.FromUnixTimeSeconds(1700000000), "not_interested"), Assert.Single(u7.Negatives));
        Assert.Equal(new HistoryEvent("i2", Utc(2024, 5, 1, 10), "click"), Assert.Single(u7.Positives));

        var u8 = records[1].History!;
        Assert.Empty(u8.Negatives); // missing list = empty
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1700000000250), u8.Positives[0].Timestamp);
        Assert.Null(u8.Positives[0].Kind);
        Assert.Equal(Utc(2024, 5, 1, 10), u8.Positives[1].Timestamp); // offset honoured
        Assert.Equal(TimeSpan.Zero, u8.Positives[1].Timestamp.Offset); // and normalised to UTC
        Assert.Equal(Utc(2024, 5, 1, 10), u8.Positives[2].Timestamp); // no offset = UTC, whatever the host zone

        Assert.Empty(records[2].History!.Negatives);
        Assert.Empty(records[2].History!.Positives);
    }

    [Fact]
    public void Bad_lines_are_reported_in_order_and_reading_continues()
    {
        var records = Read("""
            {"user_id": "a", "negatives": [{"item_id": "i1", "ts": 1700000000}]}
            {"user_id": "b", "negatives": [{"item_id": "i1", "ts": 1700000000}, {"item_id": "i2"}]}
            {"user_id": "c"}

            {"user_id": "", "positives": []}
            {"user_id": "e", "positives": [{"item_id": "i9", "ts": "2024-01-01T00:00:00Z"}]}
            """);
        Assert.Equal(5, records.Count);
        Assert.Equal([true, false, true, false, true], records.Select(r => r.IsValid));
        Assert.Equal(["a", "c", "e"], records.Where(r => r.IsValid).Select(r => r.History!.UserId));
        Assert.Equal([1L, 2, 3, 5, 6], records.Select(r => r.Line)); // the blank line still counts
        Assert.Equal("histories.jsonl:2: 'negatives[1].ts' is missing", records[1].Message);
        Assert.Equal("histories.jsonl:5: 'user_id' must not be empty", records[3].Message);
        Assert.Equal(5, records[3].Error!.Line);
    }

    [Theory]
    [InlineData("""{"negatives": []}""", "'user_id' is missing")]
    [InlineData("""{"user_id": 7}""", "'user_id' must be a string")]
    [InlineData("""{"user_id": null}""", "'user_id' is null")]
    [InlineData("""{"user_id": "u", "positives": [{"ts": 1700000000}]}""", "'positives[0].item_id' is missing")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": null, "ts": 1700000000}]}""", "'negatives[0].item_id' is null")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "", "ts": 1700000000}]}""", "'negatives[0].item_id' must not be empty")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": null}]}""", "'negatives[0].ts' is null")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": 1700000000000}]}""", "'negatives[0].ts' = 1700000000000 is outside 1970-01-01..2200-12-31")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": -5}]}""", "'negatives[0].ts' = -5 is outside")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": "1850-01-01T00:00:00Z"}]}""", "'negatives[0].ts' = 1850-01-01T00:00:00.0000000+00:00 is outside")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": "yesterday"}]}""", "'negatives[0].ts' = \"yesterday\" is not an ISO-8601 time")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": true}]}""", "'negatives[0].ts' must be Unix seconds or an ISO-8601 string")]
    [InlineData("""{"user_id": "u", "negatives": [{"item_id": "i", "ts": 1, "reason": 5}]}""", "'negatives[0].reason' must be a string")]
    [InlineData("""{"user_id": "u", "positives": [{"item_id": "i", "ts": 1, "type": ["x"]}]}""", "'positives[0].type' must be a string")]
    [InlineData("""{"user_id": "u", "negatives": {"item_id": "i"}}""", "'negatives' must be an array of events")]
    [InlineData("""{"user_id": "u", "positives": ["i1"]}""", "'positives[0]' must be an object")]
    [InlineData("""["u"]""", "line must be a JSON object")]
    [InlineData("""{"user_id": "u" """, "invalid JSON")]
    [InlineData("""{"user_id": "u"} {}""", "invalid JSON ('{' is invalid after a single JSON value")]
    public void Each_malformed_line_names_its_line_and_field(string bad, string expected)
    {
        var good = """{"user_id": "ok", "negatives": [{"item_id": "i1", "ts": 1700000000}]}""";
        var records = Read($"{good}\n{bad}\n{good}\n");
        Assert.Equal(3, records.Count);
        Assert.True(records[0].IsValid);
        Assert.True(records[2].IsValid); // the reader went on past the bad line
        Assert.False(records[1].IsValid);
        Assert.StartsWith("histories.jsonl:2: ", records[1].Message);
        Assert.Contains(expected, records[1].Message);
    }

    [Fact]
    public void Ids_longer_than_the_byte_limit_are_rejected_by_utf8_length()
    {
        var id = new string('é', 129); // 129 chars, 258 UTF-8 bytes
        var records = Read($$"""{"user_id": "{{id}}"}""");
        Assert.Equal("histories.jsonl:1: 'user_id' is longer than 256 bytes", records[0].Message);
    }

    [Fact]
    public void A_list_longer_than_the_limit_is_rejected_naming_the_limit()
    {
        var events = string.Join(",", Enumerable.Repeat("""{"item_id":"i","ts":1}""", HistoryReader.MaxEventsPerList + 1));
        var records = Read($$"""{"user_id": "u", "positives": [{{events}}]}""" + "\n" + """{"user_id": "v"}""");
        Assert.Equal("histories.jsonl:1: 'positives' has more than 10,000 events (HistoryReader.MaxEventsPerList)", records[0].Message);
        Assert.True(records[1].IsValid);

        var atLimit = string.Join(",", Enumerable.Repeat("""{"item_id":"i","ts":1}""", HistoryReader.MaxEventsPerList));
        Assert.Equal(HistoryReader.MaxEventsPerList, Read($$"""{"user_id": "u", "positives": [{{atLimit}}]}""")[0].History!.Positives.Count);
    }

    [Fact]
    public void Read_picks_the_format_by_extension_and_refuses_unknown_ones()
    {
        using var dir = new CoNRec.Testing.TempDir();
        var path = dir.File("h.ndjson");
        File.WriteAllText(path, "{\"user_id\": \"u1\"}\n{\"user_id\": 3}\n");
        var records = HistoryReader.Read(path).ToList();
        Assert.Equal("u1", records[0].History!.UserId);
        Assert.Equal($"{path}:2: 'user_id' must be a string", records[1].Message);

        var csv = dir.File("h.csv");
        File.WriteAllText(csv, "user_id\n");
        var e = Assert.Throws<HistoryFileException>(() => HistoryReader.Read(csv));
        Assert.Contains("unknown histories format '.csv'", e.Message);
        Assert.Throws<FileNotFoundException>(() => HistoryReader.Read(dir.File("missing.jsonl")));
    }
}
