using System.Text.Json;

namespace CoNRec.Core;

/// <summary>A malformed line in a user's input file; the message carries file and line number.</summary>
public sealed class InputFormatException(string source, long line, string detail)
    : FormatException($"{source}:{line}: {detail}")
{
    public string FileName { get; } = source;
    public long Line { get; } = line;
    public string Detail { get; } = detail;
}

public readonly record struct CatalogEntry(string ItemId, ulong Sid);

/// <summary>
/// One line of the predictions file: the model's SIDs (with optional log-probability scores) and, optionally, the
/// profile's recent explicit negatives and recent positives (empty when the line has none).
/// </summary>
public sealed record PredictionEntry(string UserId, ulong[] Sids, float[]? Scores)
{
    public ulong[] RecentNegatives { get; init; } = [];
    public ulong[] RecentPositives { get; init; } = [];
}

/// <summary>
/// Parsers for the catalog and predictions JSONL formats in ARCHITECTURE.md. Unknown fields are skipped,
/// so producers can add fields without breaking older loaders; known fields are strictly checked.
/// </summary>
public static class JsonlInput
{
    public const int MaxIdBytes = 256;
    public const int MaxLineBytes = 1 << 20;

    /// <summary>Yields (line number, bytes) for each non-blank line, streaming with bounded memory.</summary>
    public static IEnumerable<(long Line, byte[] Bytes)> ReadLines(Stream stream, string source)
    {
        var buffer = new byte[64 * 1024];
        var line = new MemoryStream();
        long number = 0;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                line.Write(buffer, start, i - start);
                start = i + 1;
                number++;
                if (TakeLine(line, source, number) is { } bytes) yield return (number, bytes);
            }
            line.Write(buffer, start, read - start);
            if (line.Length > MaxLineBytes) throw new InputFormatException(source, number + 1, $"line is longer than {MaxLineBytes} bytes");
        }
        if (line.Length > 0)
        {
            number++;
            if (TakeLine(line, source, number) is { } bytes) yield return (number, bytes);
        }
    }

    private static byte[]? TakeLine(MemoryStream line, string source, long number)
    {
        if (line.Length > MaxLineBytes) throw new InputFormatException(source, number, $"line is longer than {MaxLineBytes} bytes");
        var bytes = line.ToArray();
        line.SetLength(0);
        var span = bytes.AsSpan().Trim((byte)'\r').Trim((byte)' ');
        return span.IsEmpty ? null : span.ToArray();
    }

    public static CatalogEntry ParseCatalogLine(ReadOnlySpan<byte> json, SidLayout layout, string source, long line)
    {
        string? itemId = null;
        ulong? sid = null;
        Span<uint> codes = stackalloc uint[SidLayout.MaxLevels + 1];
        try
        {
            var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            Expect(ref r, JsonTokenType.StartObject, "line must be a JSON object", source, line);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("item_id"u8)) { r.Read(); itemId = ReadId(ref r, "item_id", source, line); }
                else if (r.ValueTextEquals("sid"u8)) { r.Read(); sid = ReadSid(ref r, layout, codes, "sid", source, line); }
                else { r.Read(); r.Skip(); }
            }
            EnsureEnd(ref r, source, line);
        }
        catch (JsonException e) { throw new InputFormatException(source, line, $"invalid JSON ({e.Message})"); }
        if (itemId is null) throw new InputFormatException(source, line, "missing field 'item_id'");
        if (sid is null) throw new InputFormatException(source, line, "missing field 'sid'");
        return new CatalogEntry(itemId, sid.Value);
    }

    public static PredictionEntry ParsePredictionLine(ReadOnlySpan<byte> json, SidLayout layout, string source, long line)
    {
        string? userId = null;
        List<ulong>? sids = null, recentNegatives = null, recentPositives = null;
        List<float>? scores = null;
        Span<uint> codes = stackalloc uint[SidLayout.MaxLevels + 1];
        try
        {
            var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            Expect(ref r, JsonTokenType.StartObject, "line must be a JSON object", source, line);
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("user_id"u8)) { r.Read(); userId = ReadId(ref r, "user_id", source, line); }
                else if (r.ValueTextEquals("sids"u8))
                {
                    r.Read();
                    sids = ReadSidList(ref r, layout, codes, "sids", source, line) ?? throw new InputFormatException(source, line, "'sids' must be an array of SIDs");
                }
                else if (r.ValueTextEquals("recent_negatives"u8)) { r.Read(); recentNegatives = ReadSidList(ref r, layout, codes, "recent_negatives", source, line); }
                else if (r.ValueTextEquals("recent_positives"u8)) { r.Read(); recentPositives = ReadSidList(ref r, layout, codes, "recent_positives", source, line); }
                else if (r.ValueTextEquals("scores"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.Null) continue;
                    Expect(ref r, JsonTokenType.StartArray, "'scores' must be an array of numbers", source, line, read: false);
                    scores = [];
                    while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    {
                        if (r.TokenType != JsonTokenType.Number || !r.TryGetSingle(out var s) || !float.IsFinite(s))
                            throw new InputFormatException(source, line, $"'scores[{scores.Count}]' must be a finite number");
                        if (scores.Count == SidSetCodec.MaxCount)
                            throw new InputFormatException(source, line, $"'scores' has more than {SidSetCodec.MaxCount} entries");
                        scores.Add(s);
                    }
                }
                else { r.Read(); r.Skip(); }
            }
            EnsureEnd(ref r, source, line);
        }
        catch (JsonException e) { throw new InputFormatException(source, line, $"invalid JSON ({e.Message})"); }
        if (userId is null) throw new InputFormatException(source, line, "missing field 'user_id'");
        if (sids is null) throw new InputFormatException(source, line, "missing field 'sids'");
        if (scores is not null && scores.Count != sids.Count)
            throw new InputFormatException(source, line, $"'scores' has {scores.Count} entries; 'sids' has {sids.Count}");
        return new PredictionEntry(userId, [.. sids], scores?.ToArray())
        {
            RecentNegatives = recentNegatives is null ? [] : [.. recentNegatives],
            RecentPositives = recentPositives is null ? [] : [.. recentPositives],
        };
    }

    /// <summary>An array of at most <see cref="SidSetCodec.MaxCount"/> SIDs; null for a JSON null (an optional field left out).</summary>
    private static List<ulong>? ReadSidList(ref Utf8JsonReader r, SidLayout layout, scoped Span<uint> codes, string field, string source, long line)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        Expect(ref r, JsonTokenType.StartArray, $"'{field}' must be an array of SIDs", source, line, read: false);
        var list = new List<ulong>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (list.Count == SidSetCodec.MaxCount)
                throw new InputFormatException(source, line, $"'{field}' has more than {SidSetCodec.MaxCount} SIDs");
            list.Add(ReadSid(ref r, layout, codes, $"{field}[{list.Count}]", source, line));
        }
        return list;
    }

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type, string message, string source, long line, bool read = true)
    {
        if ((read && !r.Read()) || r.TokenType != type) throw new InputFormatException(source, line, message);
    }

    private static void EnsureEnd(ref Utf8JsonReader r, string source, long line)
    {
        if (r.TokenType != JsonTokenType.EndObject) throw new InputFormatException(source, line, "unterminated JSON object");
        if (r.Read()) throw new InputFormatException(source, line, "trailing content after the JSON object");
    }

    private static string ReadId(ref Utf8JsonReader r, string field, string source, long line)
    {
        if (r.TokenType != JsonTokenType.String) throw new InputFormatException(source, line, $"'{field}' must be a string");
        var value = r.GetString()!;
        if (value.Length == 0) throw new InputFormatException(source, line, $"'{field}' must not be empty");
        if (System.Text.Encoding.UTF8.GetByteCount(value) > MaxIdBytes)
            throw new InputFormatException(source, line, $"'{field}' is longer than {MaxIdBytes} bytes");
        return value;
    }

    private static ulong ReadSid(ref Utf8JsonReader r, SidLayout layout, scoped Span<uint> codes, string field, string source, long line)
    {
        if (r.TokenType != JsonTokenType.StartArray) throw new InputFormatException(source, line, $"'{field}' must be an array of codes");
        int n = 0;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.Number || !r.TryGetUInt32(out var code))
                throw new InputFormatException(source, line, $"'{field}[{n}]' must be a non-negative integer");
            if (n >= codes.Length)
                throw new InputFormatException(source, line, $"'{field}' has more than {layout.Levels} codes; expected {layout.Levels} (one per codebook level)");
            codes[n++] = code;
        }
        var error = layout.Validate(codes[..n], field);
        if (error is not null) throw new InputFormatException(source, line, error);
        return layout.Pack(codes[..n]);
    }
}
