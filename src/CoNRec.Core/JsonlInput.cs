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
        var line = new MemoryStream(); // only a line that spans two reads goes through here
        long number = 0;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            while (start < read)
            {
                int nl = buffer.AsSpan(start, read - start).IndexOf((byte)'\n'); // vectorised scan
                if (nl < 0) break;
                number++;
                byte[]? bytes;
                if (line.Length == 0) bytes = TakeLine(buffer.AsSpan(start, nl), source, number);
                else
                {
                    line.Write(buffer, start, nl);
                    bytes = TakeLine(line.GetBuffer().AsSpan(0, (int)line.Length), source, number);
                    line.SetLength(0);
                }
                start += nl + 1;
                if (bytes is not null) yield return (number, bytes);
            }
            line.Write(buffer, start, read - start);
            if (line.Length > MaxLineBytes) throw new InputFormatException(source, number + 1, $"line is longer than {MaxLineBytes} bytes");
        }
        if (line.Length > 0)
        {
            number++;
            if (TakeLine(line.GetBuffer().AsSpan(0, (int)line.Length), source, number) is { } bytes) yield return (number, bytes);
        }
    }

    private static byte[]? TakeLine(ReadOnlySpan<byte> line, string source, long number)
    {
        if (line.Length > MaxLineBytes) throw new InputFormatException(source, number, $"line is longer than {MaxLineBytes} bytes");
        var span = line.Trim((byte)'\r').Trim((byte)' ');
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
                else if (r.ValueTextEquals("sid"u8)) { r.Read(); sid = ReadSid(ref r, layout, codes, "sid", -1, source, line); }
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
        Span<ulong> fast = stackalloc ulong[SidSetCodec.MaxCount];
        if (CanonicalPredictionLine.TryParse(json, layout, fast, out var entry)) return entry!;
        return ParsePredictionLineFull(json, layout, source, line);
    }

    /// <summary>The full parser, for any valid JSON; <see cref="ParsePredictionLine"/> tries the compact form first.</summary>
    internal static PredictionEntry ParsePredictionLineFull(ReadOnlySpan<byte> json, SidLayout layout, string source, long line)
    {
        string? userId = null;
        ulong[]? sids = null, recentNegatives = null, recentPositives = null;
        Span<ulong> sidBuffer = stackalloc ulong[SidSetCodec.MaxCount]; // one exact-size array per list, no List growth
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
                    sids = ReadSidList(ref r, layout, codes, sidBuffer, "sids", source, line) ?? throw new InputFormatException(source, line, "'sids' must be an array of SIDs");
                }
                else if (r.ValueTextEquals("recent_negatives"u8)) { r.Read(); recentNegatives = ReadSidList(ref r, layout, codes, sidBuffer, "recent_negatives", source, line); }
                else if (r.ValueTextEquals("recent_positives"u8)) { r.Read(); recentPositives = ReadSidList(ref r, layout, codes, sidBuffer, "recent_positives", source, line); }
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
        if (scores is not null && scores.Count != sids.Length)
            throw new InputFormatException(source, line, $"'scores' has {scores.Count} entries; 'sids' has {sids.Length}");
        return new PredictionEntry(userId, sids, scores?.ToArray())
        {
            RecentNegatives = recentNegatives ?? [],
            RecentPositives = recentPositives ?? [],
        };
    }

    /// <summary>An array of at most <see cref="SidSetCodec.MaxCount"/> SIDs; null for a JSON null (an optional field left out).</summary>
    private static ulong[]? ReadSidList(ref Utf8JsonReader r, SidLayout layout, scoped Span<uint> codes, scoped Span<ulong> buffer, string field, string source, long line)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        Expect(ref r, JsonTokenType.StartArray, $"'{field}' must be an array of SIDs", source, line, read: false);
        int count = 0;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (count == SidSetCodec.MaxCount)
                throw new InputFormatException(source, line, $"'{field}' has more than {SidSetCodec.MaxCount} SIDs");
            buffer[count] = ReadSid(ref r, layout, codes, field, count, source, line);
            count++;
        }
        return buffer[..count].ToArray();
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
        string value;
        try { value = r.GetString()!; }
        catch (InvalidOperationException) { throw new InputFormatException(source, line, $"'{field}' is not valid UTF-8"); }
        if (value.Length == 0) throw new InputFormatException(source, line, $"'{field}' must not be empty");
        if (System.Text.Encoding.UTF8.GetByteCount(value) > MaxIdBytes)
            throw new InputFormatException(source, line, $"'{field}' is longer than {MaxIdBytes} bytes");
        return value;
    }

    // index < 0: a single SID named by field alone. The name is only built for an error: this runs for every SID of every line.
    private static ulong ReadSid(ref Utf8JsonReader r, SidLayout layout, scoped Span<uint> codes, string field, int index, string source, long line)
    {
        if (r.TokenType != JsonTokenType.StartArray) throw new InputFormatException(source, line, $"'{Name(field, index)}' must be an array of codes");
        int n = 0;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.Number || !r.TryGetUInt32(out var code))
                throw new InputFormatException(source, line, $"'{Name(field, index)}[{n}]' must be a non-negative integer");
            if (n >= codes.Length)
                throw new InputFormatException(source, line, $"'{Name(field, index)}' has more than {layout.Levels} codes; expected {layout.Levels} (one per codebook level)");
            codes[n++] = code;
        }
        if (layout.Validate(codes[..n], field) is not null) // allocates nothing when valid; the message is rebuilt with the index
            throw new InputFormatException(source, line, layout.Validate(codes[..n], Name(field, index))!);
        return layout.Pack(codes[..n]);
    }

    private static string Name(string field, int index) => index < 0 ? field : $"{field}[{index}]";
}
