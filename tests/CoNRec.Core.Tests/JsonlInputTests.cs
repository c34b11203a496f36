using System.Text;
using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

public class JsonlInputTests
{
    private static readonly SidLayout L3K32 = new(3, 32);
    private const string File = "file.jsonl";

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static ulong Pack(params uint[] codes) => L3K32.Pack(codes);

    private static InputFormatException CatalogFails(string json, SidLayout? layout = null)
    {
        var bytes = U(json);
        var e = Assert.Throws<InputFormatException>(() => JsonlInput.ParseCatalogLine(bytes, layout ?? L3K32, File, 7));
        Assert.StartsWith("file.jsonl:7:", e.Message);
        Assert.Equal(7, e.Line);
        Assert.Equal(File, e.FileName);
        return e;
    }

    private static InputFormatException PredictionFails(string json, SidLayout? layout = null)
    {
        var bytes = U(json);
        var e = Assert.Throws<InputFormatException>(() => JsonlInput.ParsePredictionLine(bytes, layout ?? L3K32, File, 7));
        Assert.StartsWith("file.jsonl:7:", e.Message);
        Assert.Equal(7, e.Line);
        return e;
    }

    // ---------------------------------------------------------------- catalog

    [Fact]
    public void Catalog_line_parses()
    {
        var entry = JsonlInput.ParseCatalogLine(U("""{"item_id":"item-1","sid":[1,2,3]}"""), L3K32, File, 1);
        Assert.Equal("item-1", entry.ItemId);
        // K=32 -> 5 bits: 1 | 2<<5 | 3<<10 = 1 + 64 + 3072 = 3137.
        Assert.Equal(3137UL, entry.Sid);
        Assert.Equal(Pack(1, 2, 3), entry.Sid);
    }

    [Fact]
    public void Catalog_line_ignores_unknown_fields_and_field_order()
    {
        var json = """{"title":"x","sid":[31,0,7],"extra":{"nested":[1,{"a":null}]},"item_id":"\u00e9t\u00e9","n":1.5,"b":true}""";
        var entry = JsonlInput.ParseCatalogLine(U(json), L3K32, File, 1);
        Assert.Equal("été", entry.ItemId);
        Assert.Equal(Pack(31, 0, 7), entry.Sid);
    }

    [Fact]
    public void Catalog_line_allows_whitespace()
    {
        var entry = JsonlInput.ParseCatalogLine(U("  { \"item_id\" : \"a\" , \"sid\" : [ 0 , 0 , 0 ] }  "), L3K32, File, 1);
        Assert.Equal(new CatalogEntry("a", 0), entry);
    }

    [Fact]
    public void Catalog_missing_item_id()
    {
        var e = CatalogFails("""{"sid":[1,2,3]}""");
        Assert.Contains("'item_id'", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Catalog_missing_sid()
    {
        var e = CatalogFails("""{"item_id":"a"}""");
        Assert.Contains("'sid'", e.Message);
    }

    [Fact]
    public void Catalog_empty_item_id()
    {
        var e = CatalogFails("""{"item_id":"","sid":[1,2,3]}""");
        Assert.Contains("'item_id'", e.Message);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Catalog_item_id_that_is_not_a_string()
    {
        Assert.Contains("'item_id'", CatalogFails("""{"item_id":12,"sid":[1,2,3]}""").Message);
        Assert.Contains("'item_id'", CatalogFails("""{"item_id":null,"sid":[1,2,3]}""").Message);
    }

    [Fact]
    public void Catalog_item_id_of_300_bytes()
    {
        var e = CatalogFails($$"""{"item_id":"{{new string('x', 300)}}","sid":[1,2,3]}""");
        Assert.Contains("'item_id'", e.Message);
        Assert.Contains("256", e.Message);
    }

    [Fact]
    public void Item_id_limit_counts_utf8_bytes_not_characters()
    {
        // 256 ASCII bytes is fine; 129 two-byte characters (258 bytes) is not.
        var ok = JsonlInput.ParseCatalogLine(U($$"""{"item_id":"{{new string('x', 256)}}","sid":[1,2,3]}"""), L3K32, File, 7);
        Assert.Equal(256, ok.ItemId.Length);
        var e = CatalogFails($$"""{"item_id":"{{new string('é', 129)}}","sid":[1,2,3]}""");
        Assert.Contains("'item_id'", e.Message);
    }

    [Fact]
    public void Catalog_sid_with_too_few_codes()
    {
        var e = CatalogFails("""{"item_id":"a","sid":[1,2]}""");
        Assert.Contains("'sid'", e.Message);
        Assert.Contains("2 codes", e.Message);
        Assert.Contains("expected 3", e.Message);
    }

    [Fact]
    public void Catalog_sid_with_too_many_codes()
    {
        Assert.Contains("'sid'", CatalogFails("""{"item_id":"a","sid":[1,2,3,4]}""").Message);
        // More codes than any layout allows.
        Assert.Contains("'sid'", CatalogFails("""{"item_id":"a","sid":[1,1,1,1,1,1,1,1,1,1,1,1]}""").Message);
    }

    [Fact]
    public void Catalog_code_at_or_above_K()
    {
        var e = CatalogFails("""{"item_id":"a","sid":[1,32,3]}""");
        Assert.Contains("'sid[1]'", e.Message);
        Assert.Contains("< 32", e.Message);
    }

    [Theory]
    [InlineData("[-1,2,3]", "sid[0]")]
    [InlineData("[1,2.5,3]", "sid[1]")]
    [InlineData("[1,2,\"3\"]", "sid[2]")]
    [InlineData("[1,2,4294967296]", "sid[2]")]
    [InlineData("[1,null,3]", "sid[1]")]
    public void Catalog_code_that_is_not_a_non_negative_integer(string sid, string field)
    {
        var e = CatalogFails($$"""{"item_id":"a","sid":{{sid}}}""");
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains("non-negative integer", e.Message);
    }

    [Theory]
    [InlineData("\"1,2,3\"")]
    [InlineData("3")]
    [InlineData("{\"0\":1}")]
    [InlineData("null")]
    public void Catalog_sid_that_is_not_an_array(string sid)
    {
        var e = CatalogFails($$"""{"item_id":"a","sid":{{sid}}}""");
        Assert.Contains("'sid'", e.Message);
        Assert.Contains("array", e.Message);
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("\"item\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void Catalog_line_that_is_not_an_object(string json)
    {
        var e = CatalogFails(json);
        Assert.Contains("object", e.Message);
    }

    [Theory]
    [InlineData("{\"item_id\":\"a\",\"sid\":[1,2,3]")]
    [InlineData("{item_id:\"a\"}")]
    [InlineData("{\"item_id\":\"a\",,\"sid\":[1,2,3]}")]
    [InlineData("{\"item_id\":\"a\",\"sid\":[1,2,3],}")]
    [InlineData("")]
    public void Catalog_invalid_json(string json)
    {
        var e = CatalogFails(json);
        Assert.Contains("JSON", e.Message);
    }

    [Theory]
    [InlineData("{\"item_id\":\"a\",\"sid\":[1,2,3]} x")]
    [InlineData("{\"item_id\":\"a\",\"sid\":[1,2,3]}{}")]
    [InlineData("{\"item_id\":\"a\",\"sid\":[1,2,3]} 1")]
    public void Catalog_trailing_garbage(string json)
    {
        CatalogFails(json);
    }

    // ---------------------------------------------------------------- predictions

    [Fact]
    public void Prediction_line_parses_with_scores()
    {
        var p = JsonlInput.ParsePredictionLine(U("""{"user_id":"u1","sids":[[1,2,3],[0,0,31]],"scores":[-0.5,2]}"""), L3K32, File, 1);
        Assert.Equal("u1", p.UserId);
        Assert.Equal([Pack(1, 2, 3), Pack(0, 0, 31)], p.Sids);
        Assert.NotNull(p.Scores);
        Assert.Equal([-0.5f, 2f], p.Scores);
    }

    [Fact]
    public void Prediction_scores_are_optional_and_may_be_null()
    {
        var absent = JsonlInput.ParsePredictionLine(U("""{"user_id":"u","sids":[[1,2,3]],"model":"v2"}"""), L3K32, File, 1);
        Assert.Null(absent.Scores);
        Assert.Equal([Pack(1, 2, 3)], absent.Sids);

        var nul = JsonlInput.ParsePredictionLine(U("""{"scores":null,"user_id":"u","sids":[[1,2,3]]}"""), L3K32, File, 1);
        Assert.Null(nul.Scores);
        Assert.Equal([Pack(1, 2, 3)], nul.Sids);
    }

    [Fact]
    public void Prediction_with_no_sids_is_allowed()
    {
        var p = JsonlInput.ParsePredictionLine(U("""{"user_id":"u","sids":[],"scores":[]}"""), L3K32, File, 1);
        Assert.Empty(p.Sids);
        Assert.Empty(p.Scores!);
    }

    [Fact]
    public void Prediction_unknown_fields_are_ignored()
    {
        var p = JsonlInput.ParsePredictionLine(
            U("""{"debug":{"sids":[[99,99,99]]},"user_id":"u","meta":[1,[2,[3]]],"sids":[[4,5,6]],"user":"ignored"}"""), L3K32, File, 1);
        Assert.Equal("u", p.UserId);
        Assert.Equal([Pack(4, 5, 6)], p.Sids);
    }

    [Fact]
    public void Prediction_missing_user_id_and_sids()
    {
        Assert.Contains("'user_id'", PredictionFails("""{"sids":[[1,2,3]]}""").Message);
        Assert.Contains("'sids'", PredictionFails("""{"user_id":"u"}""").Message);
        Assert.Contains("'user_id'", PredictionFails("""{"user_id":"","sids":[]}""").Message);
        Assert.Contains("'user_id'", PredictionFails($$"""{"user_id":"{{new string('u', 300)}}","sids":[]}""").Message);
    }

    [Fact]
    public void Prediction_sid_errors_name_the_sid_index()
    {
        var e = PredictionFails("""{"user_id":"u","sids":[[1,2,3],[4,5]]}""");
        Assert.Contains("'sids[1]'", e.Message);
        Assert.Contains("2 codes", e.Message);

        var high = PredictionFails("""{"user_id":"u","sids":[[1,2,3],[4,5,6],[7,8,40]]}""");
        Assert.Contains("'sids[2][2]'", high.Message);
        Assert.Contains("< 32", high.Message);

        var neg = PredictionFails("""{"user_id":"u","sids":[[-1,2,3]]}""");
        Assert.Contains("'sids[0][0]'", neg.Message);

        var notArray = PredictionFails("""{"user_id":"u","sids":[[1,2,3],7]}""");
        Assert.Contains("'sids[1]'", notArray.Message);
    }

    [Fact]
    public void Prediction_sids_that_is_not_an_array()
    {
        Assert.Contains("'sids'", PredictionFails("""{"user_id":"u","sids":{"a":[1,2,3]}}""").Message);
        Assert.Contains("'sids'", PredictionFails("""{"user_id":"u","sids":null}""").Message);
    }

    [Fact]
    public void Prediction_scores_length_mismatch()
    {
        var e = PredictionFails("""{"user_id":"u","sids":[[1,2,3],[4,5,6]],"scores":[0.1]}""");
        Assert.Contains("'scores'", e.Message);
        Assert.Contains("1 entries", e.Message);
        Assert.Contains("'sids' has 2", e.Message);
    }

    [Theory]
    [InlineData("[0.1,\"x\"]", "scores[1]")]
    [InlineData("[null]", "scores[0]")]
    [InlineData("[1e39]", "scores[0]")]
    [InlineData("[[0.1]]", "scores[0]")]
    [InlineData("\"0.1\"", "'scores'")]
    [InlineData("{}", "'scores'")]
    public void Prediction_bad_scores(string scores, string field)
    {
        var e = PredictionFails($$"""{"user_id":"u","sids":[[1,2,3]],"scores":{{scores}}}""");
        Assert.Contains(field, e.Message);
    }

    private static string Sids(int count) => "[" + string.Join(",", Enumerable.Repeat("[1,2,3]", count)) + "]";
    private static string Scores(int count) => "[" + string.Join(",", Enumerable.Repeat("0.5", count)) + "]";

    [Fact]
    public void Prediction_with_255_sids_parses_and_256_is_rejected()
    {
        var ok = JsonlInput.ParsePredictionLine(U($$"""{"user_id":"u","sids":{{Sids(255)}},"scores":{{Scores(255)}}}"""), L3K32, File, 7);
        Assert.Equal(255, ok.Sids.Length);
        Assert.Equal(255, ok.Scores!.Length);

        var e = PredictionFails($$"""{"user_id":"u","sids":{{Sids(256)}}}""");
        Assert.Contains("'sids'", e.Message);
        Assert.Contains("255", e.Message);

        var s = PredictionFails($$"""{"user_id":"u","sids":{{Sids(1)}},"scores":{{Scores(256)}}}""");
        Assert.Contains("'scores'", s.Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"user_id\":\"u\",\"sids\":[[1,2,3]]")]
    [InlineData("{\"user_id\":\"u\",\"sids\":[[1,2,3]]} x")]
    [InlineData("{\"user_id\":\"u\",\"sids\":[[1,2,3]]}{}")]
    public void Prediction_malformed_json(string json)
    {
        PredictionFails(json);
    }

    [Fact]
    public void Exception_exposes_its_parts()
    {
        var e = new InputFormatException("a.jsonl", 12, "bad thing");
        Assert.Equal("a.jsonl:12: bad thing", e.Message);
        Assert.Equal("a.jsonl", e.FileName);
        Assert.Equal(12, e.Line);
        Assert.Equal("bad thing", e.Detail);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    // ---------------------------------------------------------------- ReadLines

    private static List<(long Line, string Text)> Read(byte[] bytes) =>
        JsonlInput.ReadLines(new MemoryStream(bytes), File).Select(x => (x.Line, Encoding.UTF8.GetString(x.Bytes))).ToList();

    [Fact]
    public void ReadLines_counts_blank_lines_but_skips_them()
    {
        var lines = Read(U("a\n\nb\n   \n\nc\n"));
        Assert.Equal([(1L, "a"), (3L, "b"), (6L, "c")], lines);
    }

    [Fact]
    public void ReadLines_handles_crlf()
    {
        var lines = Read(U("{\"x\":1}\r\n\r\n{\"y\":2}\r\n"));
        Assert.Equal([(1L, "{\"x\":1}"), (3L, "{\"y\":2}")], lines);
    }

    [Fact]
    public void ReadLines_returns_a_last_line_without_newline()
    {
        Assert.Equal([(1L, "first"), (2L, "last")], Read(U("first\nlast")));
        Assert.Equal([(3L, "x")], Read(U("\n\nx")));
        Assert.Equal([(1L, "only")], Read(U("only")));
    }

    [Fact]
    public void ReadLines_of_empty_or_blank_input_yields_nothing()
    {
        Assert.Empty(Read([]));
        Assert.Empty(Read(U("\n\n\r\n  \n")));
    }

    [Fact]
    public void ReadLines_trims_surrounding_spaces_but_keeps_inner_content()
    {
        Assert.Equal([(1L, "a b")], Read(U("  a b  \r\n")));
    }

    [Fact]
    public void ReadLines_handles_lines_that_span_the_internal_buffer()
    {
        // Lines of 100 KB cross the 64 KB read buffer.
        var a = new string('a', 100_000);
        var b = new string('b', 70_000);
        var lines = Read(U(a + "\n\n" + b + "\r\nc"));
        Assert.Equal(3, lines.Count);
        Assert.Equal((1L, a), lines[0]);
        Assert.Equal((3L, b), lines[1]);
        Assert.Equal((4L, "c"), lines[2]);
    }

    [Fact]
    public void ReadLines_accepts_a_line_of_exactly_MaxLineBytes()
    {
        var max = new string('m', JsonlInput.MaxLineBytes);
        var lines = Read(U("x\n" + max + "\ny"));
        Assert.Equal(3, lines.Count);
        Assert.Equal(JsonlInput.MaxLineBytes, lines[1].Text.Length);
        Assert.Equal(2L, lines[1].Line);
        Assert.Equal((3L, "y"), lines[2]);
    }

    [Theory]
    [InlineData(1)]                // just over the limit, ended by a newline
    [InlineData(200_000)]          // well over: detected while streaming
    public void ReadLines_rejects_a_line_longer_than_MaxLineBytes_with_its_line_number(int over)
    {
        var text = "ok\n\n" + new string('z', JsonlInput.MaxLineBytes + over) + "\nnext\n";
        var stream = new MemoryStream(U(text));
        var seen = new List<long>();
        var e = Assert.Throws<InputFormatException>(() =>
        {
            foreach (var (line, _) in JsonlInput.ReadLines(stream, File)) seen.Add(line);
        });
        Assert.StartsWith("file.jsonl:3:", e.Message);
        Assert.Equal(3, e.Line);
        Assert.Contains(JsonlInput.MaxLineBytes.ToString(), e.Message);
        Assert.Equal([1L], seen);
    }

    [Fact]
    public void ReadLines_rejects_an_overlong_last_line_without_newline()
    {
        var text = "ok\n" + new string('z', JsonlInput.MaxLineBytes + 1);
        var e = Assert.Throws<InputFormatException>(() => JsonlInput.ReadLines(new MemoryStream(U(text)), File).ToList());
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void ReadLines_then_parse_reports_the_physical_line_number()
    {
        var text = """
            {"item_id":"a","sid":[1,2,3]}

            {"item_id":"b","sid":[1,2]}
            """;
        var e = Assert.Throws<InputFormatException>(() =>
        {
            foreach (var (line, bytes) in JsonlInput.ReadLines(new MemoryStream(U(text)), "catalog.jsonl"))
                JsonlInput.ParseCatalogLine(bytes, L3K32, "catalog.jsonl", line);
        });
        Assert.StartsWith("catalog.jsonl:3:", e.Message);
    }
    [Fact]
    public void Prediction_line_carries_the_optional_profile_parts()
    {
        var p = JsonlInput.ParsePredictionLine(U("""{"user_id":"u","sids":[[1,2,3]],"recent_negatives":[[4,5,6],[7,8,9]],"recent_positives":[[0,0,1]]}"""), L3K32, File, 1);
        Assert.Equal([Pack(4, 5, 6), Pack(7, 8, 9)], p.RecentNegatives);
        Assert.Equal([Pack(0, 0, 1)], p.RecentPositives);
        var old = JsonlInput.ParsePredictionLine(U("""{"user_id":"u","sids":[[1,2,3]]}"""), L3K32, File, 1);
        Assert.Empty(old.RecentNegatives);
        Assert.Empty(old.RecentPositives);
        var nul = JsonlInput.ParsePredictionLine(U("""{"user_id":"u","sids":[],"recent_negatives":null}"""), L3K32, File, 1);
        Assert.Empty(nul.RecentNegatives);
    }

    [Theory]
    [InlineData("""{"user_id":"u","sids":[],"recent_negatives":[[1,2]]}""", "'recent_negatives[0]' has 2 codes")]
    [InlineData("""{"user_id":"u","sids":[],"recent_positives":[[1,2,32]]}""", "recent_positives[0]")]
    [InlineData("""{"user_id":"u","sids":[],"recent_negatives":{"a":1}}""", "'recent_negatives' must be an array of SIDs")]
    [InlineData("""{"user_id":"u","sids":[],"recent_positives":[7]}""", "'recent_positives[0]' must be an array of codes")]
    public void Malformed_profile_parts_name_the_field(string json, string expected)
    {
        Assert.Contains(expected, PredictionFails(json).Message);
    }

    [Fact]
    public void Invalid_utf8_in_an_id_is_a_line_numbered_error_not_a_crash()
    {
        byte[] prediction = [.. "{\"user_id\":\"u"u8, 0xFF, .. "\",\"sids\":[[1,2,3]]}"u8];
        var e = Assert.Throws<InputFormatException>(() => JsonlInput.ParsePredictionLine(prediction, L3K32, File, 4));
        Assert.Equal("file.jsonl:4: 'user_id' is not valid UTF-8", e.Message);
        byte[] catalog = [.. "{\"item_id\":\"i"u8, 0xC3, .. "\",\"sid\":[1,2,3]}"u8];
        var c = Assert.Throws<InputFormatException>(() => JsonlInput.ParseCatalogLine(catalog, L3K32, File, 5));
        Assert.Equal("file.jsonl:5: 'item_id' is not valid UTF-8", c.Message);
    }
}
