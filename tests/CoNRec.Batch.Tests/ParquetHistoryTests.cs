using CoNRec.Batch.Histories;
using CoNRec.Model.Prompting;
using CoNRec.Testing;
using Parquet;
using Parquet.Serialization;
using Xunit;

namespace CoNRec.Batch.Tests;

public sealed class ParquetHistoryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // Column names are the property names, so these mirror the documented schema exactly.
    public sealed class NegativeEvent { public string? item_id { get; set; } public long ts { get; set; } public string? reason { get; set; } }
    public sealed class PositiveEvent { public string? item_id { get; set; } public long ts { get; set; } public string? type { get; set; } }
    public sealed class NestedRow { public string? user_id { get; set; } public List<NegativeEvent>? negatives { get; set; } public List<PositiveEvent>? positives { get; set; } }

    public sealed class TimedEvent { public string? item_id { get; set; } public DateTime ts { get; set; } public string? reason { get; set; } }
    public sealed class TimedRow { public string? user_id { get; set; } public List<TimedEvent>? negatives { get; set; } }

    public sealed class FlatRow { public string? user_id { get; set; } public string? item_id { get; set; } public long ts { get; set; } public string? feedback { get; set; } public string? kind { get; set; } }

    private string Write<T>(string name, IEnumerable<T> rows, int rowGroupSize = 1000)
    {
        var path = _dir.File(name);
        ParquetSerializer.SerializeAsync(rows, path, new ParquetOptions { RowGroupSize = rowGroupSize }).GetAwaiter().GetResult();
        return path;
    }

    private static DateTimeOffset T(long s) => DateTimeOffset.FromUnixTimeSeconds(s);

    private static void AssertSame(UserHistory expected, UserHistory actual)
    {
        Assert.Equal(expected.UserId, actual.UserId);
        Assert.Equal(expected.Negatives, actual.Negatives);
        Assert.Equal(expected.Positives, actual.Positives);
    }

    [Fact]
    public void Nested_layout_reads_back_equal_across_row_groups()
    {
        var rows = Enumerable.Range(0, 7).Select(u => new NestedRow
        {
            user_id = $"u{u}",
            negatives = u == 3 ? null : [.. Enumerable.Range(0, u).Select(k => new NegativeEvent { item_id = $"n{u}.{k}", ts = 1_700_000_000 + k, reason = k % 2 == 0 ? "not_interested" : null })],
            positives = u == 5 ? [] : [new PositiveEvent { item_id = $"p{u}", ts = 1_600_000_000 + u, type = "click" }],
        }).ToList();
        var path = Write("nested.parquet", rows, rowGroupSize: 3);

        var records = HistoryReader.Read(path).ToList();
        Assert.Equal(7, records.Count);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), records.Select(r => r.Line));
        for (int u = 0; u < 7; u++)
        {
            Assert.True(records[u].IsValid, records[u].Message);
            var expected = new UserHistory($"u{u}",
                u == 3 ? [] : [.. Enumerable.Range(0, u).Select(k => new HistoryEvent($"n{u}.{k}", T(1_700_000_000 + k), k % 2 == 0 ? "not_interested" : null))],
                u == 5 ? [] : [new HistoryEvent($"p{u}", T(1_600_000_000 + u), "click")]);
            AssertSame(expected, records[u].History!);
        }
    }

    [Fact]
    public void Nested_layout_accepts_timestamp_columns()
    {
        var when = new DateTime(2024, 5, 1, 10, 0, 0, DateTimeKind.Utc);
        var path = Write("timed.parquet", [new TimedRow { user_id = "u1", negatives = [new TimedEvent { item_id = "i1", ts = when, reason = "dislike" }] }]);
        var history = Assert.Single(HistoryReader.Read(path)).History!;
        Assert.Equal(new HistoryEvent("i1", new DateTimeOffset(when), "dislike"), Assert.Single(history.Negatives));
        Assert.Empty(history.Positives); // no positives column = empty for everyone
    }

    [Fact]
    public void Null_item_id_is_reported_with_its_row_and_the_other_rows_still_read()
    {
        var rows = new List<NestedRow>
        {
            new() { user_id = "u1", negatives = [new() { item_id = "a", ts = 1_700_000_000 }] },
            new() { user_id = "u2", negatives = [new() { item_id = "b", ts = 1_700_000_000 }, new() { item_id = null, ts = 1_700_000_001 }] },
            new() { user_id = "u3", positives = [new() { item_id = "c", ts = 1_700_000_000 }] },
            new() { user_id = "u4", positives = [new() { item_id = "d", ts = 17_000_000_000_000 }] },
            new() { user_id = null, positives = [new() { item_id = "e", ts = 1_700_000_000 }] },
            new() { user_id = "u6", negatives = [new() { item_id = "f", ts = 1_700_000_002 }] },
        };
        var path = Write("nulls.parquet", rows, rowGroupSize: 4);
        var records = HistoryReader.Read(path).ToList();
        Assert.Equal([true, false, true, false, false, true], records.Select(r => r.IsValid));
        Assert.Equal($"{path}: row 2: 'negatives[1].item_id' is null", records[1].Message);
        Assert.Equal(2, records[1].Error!.Line);
        Assert.StartsWith($"{path}: row 4: 'positives[0].ts' = 17000000000000 is outside", records[3].Message);
        Assert.Equal($"{path}: row 5: 'user_id' is null", records[4].Message);
        // The cursors stay aligned after a bad row: u3 and u6 read their own events.
        Assert.Equal("c", records[2].History!.Positives[0].ItemId);
        Assert.Equal(new HistoryEvent("f", T(1_700_000_002), null), records[5].History!.Negatives[0]);
    }

    [Fact]
    public void Flat_layout_groups_consecutive_rows_of_a_user_even_across_row_groups()
    {
        var rows = new List<FlatRow>
        {
            new() { user_id = "u1", item_id = "a", ts = 1_700_000_000, feedback = "negative", kind = "not_interested" },
            new() { user_id = "u1", item_id = "b", ts = 1_700_000_001, feedback = "positive", kind = "click" },
            new() { user_id = "u1", item_id = "c", ts = 1_700_000_002, feedback = "negative" },
            new() { user_id = "u2", item_id = "d", ts = 1_700_000_003, feedback = "positive", kind = "purchase" },
            new() { user_id = "u3", item_id = "e", ts = 1_700_000_004, feedback = "negative" },
            new() { user_id = "u3", item_id = "f", ts = 1_700_000_005, feedback = "sideways" },
            new() { user_id = "u3", item_id = "g", ts = 1_700_000_006, feedback = "negative" },
            new() { user_id = "u4", item_id = null, ts = 1_700_000_007, feedback = "negative" },
            new() { user_id = "u5", item_id = "h", ts = 1_700_000_008, feedback = "positive" },
        };
        var path = Write("flat.parquet", rows, rowGroupSize: 2); // u1 spans groups 1 and 2

        var records = HistoryReader.Read(path).ToList();
        Assert.Equal(5, records.Count);
        AssertSame(new UserHistory("u1",
            [new HistoryEvent("a", T(1_700_000_000), "not_interested"), new HistoryEvent("c", T(1_700_000_002), null)],
            [new HistoryEvent("b", T(1_700_000_001), "click")]), records[0].History!);
        Assert.Equal(1, records[0].Line);
        AssertSame(new UserHistory("u2", [], [new HistoryEvent("d", T(1_700_000_003), "purchase")]), records[1].History!);
        Assert.Equal(4, records[1].Line);
        Assert.Equal($"{path}: row 6: 'feedback' = \"sideways\" must be \"negative\" or \"positive\"", records[2].Message);
        Assert.Equal($"{path}: row 8: 'item_id' is null", records[3].Message);
        AssertSame(new UserHistory("u5", [], [new HistoryEvent("h", T(1_700_000_008), null)]), records[4].History!);
    }

    [Fact]
    public void Truncated_or_non_parquet_files_are_a_clear_fatal_error_naming_the_file()
    {
        var good = Write("good.parquet", [new NestedRow { user_id = "u1", negatives = [new() { item_id = "a", ts = 1 }] }]);
        var bytes = File.ReadAllBytes(good);

        var truncated = _dir.File("truncated.parquet");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var e = Assert.Throws<HistoryFileException>(() => HistoryReader.Read(truncated).ToList());
        Assert.StartsWith($"{truncated}: not a readable Parquet file", e.Message);

        var footerCut = _dir.File("footer-cut.parquet");
        File.WriteAllBytes(footerCut, [.. bytes[..^12], .. "PAR1"u8]); // magic intact, footer length garbage
        e = Assert.Throws<HistoryFileException>(() => HistoryReader.Read(footerCut).ToList());
        Assert.Equal(footerCut, e.FileName);

        var garbled = _dir.File("garbled.parquet");
        var pages = (byte[])bytes.Clone();
        Array.Fill(pages, (byte)0xEE, 4, 24); // footer intact, first column chunk's page header destroyed
        File.WriteAllBytes(garbled, pages);
        e = Assert.Throws<HistoryFileException>(() => HistoryReader.Read(garbled).ToList());
        Assert.StartsWith($"{garbled}: row group 0 (from row 1, 1 rows) is unreadable", e.Message);

        var text = _dir.File("text.parquet");
        File.WriteAllText(text, "{\"user_id\": \"u1\"}\n");
        e = Assert.Throws<HistoryFileException>(() => HistoryReader.Read(text).ToList());
        Assert.Contains("not a readable Parquet file", e.Message);
    }

    public sealed class OtherRow { public string? name { get; set; } public int age { get; set; } }
    public sealed class NoUserRow { public List<NegativeEvent>? negatives { get; set; } }
    public sealed class FlatNoFeedbackRow { public string? user_id { get; set; } public string? item_id { get; set; } public long ts { get; set; } }
    public sealed class EventNoTs { public string? item_id { get; set; } }
    public sealed class NestedNoTsRow { public string? user_id { get; set; } public List<EventNoTs>? positives { get; set; } }

    [Fact]
    public void A_schema_of_neither_layout_names_the_missing_column()
    {
        string Fail<T>(string name, T row) => Assert.Throws<HistoryFileException>(() => HistoryReader.Read(Write(name, [row])).ToList()).Detail;

        Assert.Contains("matches neither histories layout: missing column 'negatives' or 'positives'", Fail("other.parquet", new OtherRow { name = "x" }));
        Assert.Equal("missing column 'user_id'", Fail("nouser.parquet", new NoUserRow { negatives = [] }));
        Assert.Equal("missing column 'feedback'", Fail("flat.parquet", new FlatNoFeedbackRow { user_id = "u", item_id = "i", ts = 1 }));
        Assert.Equal("missing column 'positives.ts'", Fail("nots.parquet", new NestedNoTsRow { user_id = "u", positives = [] }));
    }
}
