using System.Globalization;
using System.Text;
using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Prompting;

namespace CoNRec.Batch.Histories;

public enum HistoryFormat { Jsonl, Parquet }

/// <summary>
/// Streams the generator's user histories (ARCHITECTURE.md, "User histories for the generator") from JSONL or Parquet.
/// <para>
/// JSONL, one user per line: <c>{"user_id": "u7", "negatives": [{"item_id": "i1", "ts": 1700000000, "reason": "not_interested"}],
/// "positives": [{"item_id": "i2", "ts": "2024-05-01T10:00:00Z", "type": "click"}]}</c>. <c>ts</c> is Unix seconds (integer
/// or fractional) or an ISO-8601 string (UTC when it has no offset); <c>reason</c>/<c>type</c> are optional; a missing or null
/// list is empty; unknown fields are ignored.
/// </para>
/// <para>Parquet: see <see cref="ParquetHistories"/> for the two accepted layouts.</para>
/// <para>
/// A bad line or row becomes a <see cref="HistoryRecord"/> carrying an <see cref="InputFormatException"/> and reading goes on.
/// Only a file that cannot be read at all throws (<see cref="HistoryFileException"/>, or the <see cref="InputFormatException"/>
/// of <see cref="JsonlInput.ReadLines"/> for a line over <see cref="JsonlInput.MaxLineBytes"/>, after which the line
/// framing is lost).
/// </para>
/// </summary>
public static class HistoryReader
{
    /// <summary>Events per list (negatives or positives) of one user; a longer list rejects the user rather than truncating silently.</summary>
    public const int MaxEventsPerList = 10_000;

    /// <summary>Accepted event times: anything outside is a unit mistake (milliseconds, microseconds) or a placeholder.</summary>
    public static readonly DateTimeOffset MinTimestamp = DateTimeOffset.UnixEpoch;
    public static readonly DateTimeOffset MaxTimestamp = new(2200, 12, 31, 23, 59, 59, TimeSpan.Zero);

    public static HistoryFormat DetectFormat(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" or ".json" or ".ndjson" => HistoryFormat.Jsonl,
        ".parquet" => HistoryFormat.Parquet,
        var ext => throw new HistoryFileException(path,
            $"unknown histories format '{(ext.Length == 0 ? "(no extension)" : ext)}'; expected .jsonl, .json, .ndjson or .parquet"),
    };

    /// <summary>
    /// Reads <paramref name="path"/>, choosing the format by extension. The format and the file's existence are checked
    /// now; records are produced lazily, one line or one Parquet row group at a time.
    /// </summary>
    public static IEnumerable<HistoryRecord> Read(string path, CancellationToken cancellationToken = default)
    {
        var format = DetectFormat(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: histories file not found", path);
        return format == HistoryFormat.Jsonl ? ReadJsonlFile(path, cancellationToken) : ParquetHistories.ReadFile(path, cancellationToken);
    }

    private static IEnumerable<HistoryRecord> ReadJsonlFile(string path, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        foreach (var record in ReadJsonl(stream, path, cancellationToken)) yield return record;
    }

    /// <summary>Reads JSONL histories from <paramref name="stream"/>; <paramref name="source"/> names it in messages.</summary>
    public static IEnumerable<HistoryRecord> ReadJsonl(Stream stream, string source, CancellationToken cancellationToken = default)
    {
        foreach (var (line, bytes) in JsonlInput.ReadLines(stream, source))
        {
            cancellationToken.ThrowIfCancellationRequested();
            HistoryRecord record;
            try { record = HistoryRecord.Ok(line, ParseJsonLine(bytes, source, line)); }
            catch (InputFormatException e) { record = HistoryRecord.Bad(e); }
            yield return record;
        }
    }

    /// <summary>Parses one JSONL history line; throws <see cref="InputFormatException"/> naming the offending field.</summary>
    public static UserHistory ParseJsonLine(ReadOnlySpan<byte> json, string source, long line)
    {
        string? userId = null;
        List<HistoryEvent>? negatives = null, positives = null;
        try
        {
            var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) throw Bad(source, line, "line must be a JSON object");
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("user_id"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.Null) throw Bad(source, line, "'user_id' is null");
                    if (r.TokenType != JsonTokenType.String) throw Bad(source, line, "'user_id' must be a string");
                    userId = r.GetString()!;
                    if (CheckId(userId, "user_id") is { } error) throw Bad(source, line, error);
                }
                else if (r.ValueTextEquals("negatives"u8)) { r.Read(); negatives = ReadEvents(ref r, "negatives", "reason", source, line); }
                else if (r.ValueTextEquals("positives"u8)) { r.Read(); positives = ReadEvents(ref r, "positives", "type", source, line); }
                else { r.Read(); r.Skip(); }
            }
            if (r.TokenType != JsonTokenType.EndObject) throw Bad(source, line, "unterminated JSON object");
            if (r.Read()) throw Bad(source, line, "trailing content after the JSON object");
        }
        catch (JsonException e) { throw Bad(source, line, $"invalid JSON ({e.Message})"); }
        if (userId is null) throw Bad(source, line, "'user_id' is missing");
        return new UserHistory(userId, (IReadOnlyList<HistoryEvent>?)negatives ?? [], (IReadOnlyList<HistoryEvent>?)positives ?? []);
    }

    private static List<HistoryEvent>? ReadEvents(ref Utf8JsonReader r, string list, string kindField, string source, long line)
    {
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw Bad(source, line, $"'{list}' must be an array of events");
        var events = new List<HistoryEvent>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (events.Count == MaxEventsPerList) throw Bad(source, line, TooManyEvents(list));
            var at = $"{list}[{events.Count}]";
            if (r.TokenType != JsonTokenType.StartObject) throw Bad(source, line, $"'{at}' must be an object");
            string? itemId = null, kind = null;
            DateTimeOffset? ts = null;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("item_id"u8))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.Null) throw Bad(source, line, $"'{at}.item_id' is null");
                    if (r.TokenType != JsonTokenType.String) throw Bad(source, line, $"'{at}.item_id' must be a string");
                    itemId = r.GetString()!;
                    if (CheckId(itemId, $"{at}.item_id") is { } error) throw Bad(source, line, error);
                }
                else if (r.ValueTextEquals("ts"u8)) { r.Read(); ts = ReadTimestamp(ref r, $"{at}.ts", source, line); }
                else if (r.ValueTextEquals(kindField))
                {
                    r.Read();
                    if (r.TokenType == JsonTokenType.Null) continue;
                    if (r.TokenType != JsonTokenType.String) throw Bad(source, line, $"'{at}.{kindField}' must be a string");
                    kind = r.GetString()!;
                    if (CheckKind(kind, $"{at}.{kindField}") is { } error) throw Bad(source, line, error);
                }
                else { r.Read(); r.Skip(); }
            }
            if (itemId is null) throw Bad(source, line, $"'{at}.item_id' is missing");
            if (ts is null) throw Bad(source, line, $"'{at}.ts' is missing");
            events.Add(new HistoryEvent(itemId, ts.Value, kind));
        }
        return events;
    }

    private static DateTimeOffset ReadTimestamp(ref Utf8JsonReader r, string field, string source, long line)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.Number:
                string? error;
                DateTimeOffset ts;
                if (r.TryGetInt64(out var seconds)) (ts, error) = FromUnixSeconds(seconds, field);
                else if (r.TryGetDouble(out var fractional)) (ts, error) = FromUnixSeconds(fractional, field);
                else (ts, error) = (default, $"'{field}' is not a representable number");
                return error is null ? ts : throw Bad(source, line, error);
            case JsonTokenType.String:
                // The reader's own ISO-8601 parser: stricter than DateTimeOffset.Parse, which would take "5/1/2024".
                if (!r.TryGetDateTimeOffset(out var parsed))
                    throw Bad(source, line, $"'{field}' = \"{r.GetString()}\" is not an ISO-8601 time or Unix seconds");
                // Without an offset the reader assumes the machine's zone; histories are UTC whatever the host says.
                if (r.TryGetDateTime(out var local) && local.Kind == DateTimeKind.Unspecified)
                    parsed = new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Utc));
                return CheckRange(parsed.ToUniversalTime(), field) is { } rangeError ? throw Bad(source, line, rangeError) : parsed.ToUniversalTime();
            case JsonTokenType.Null:
                throw Bad(source, line, $"'{field}' is null");
            default:
                throw Bad(source, line, $"'{field}' must be Unix seconds or an ISO-8601 string");
        }
    }

    // Shared by both formats so JSONL and Parquet reject the same things with the same words.

    internal static string? CheckId(string value, string field)
    {
        if (value.Length == 0) return $"'{field}' must not be empty";
        if (Encoding.UTF8.GetByteCount(value) > JsonlInput.MaxIdBytes) return $"'{field}' is longer than {JsonlInput.MaxIdBytes} bytes";
        return null;
    }

    internal static string? CheckKind(string value, string field) =>
        Encoding.UTF8.GetByteCount(value) > JsonlInput.MaxIdBytes ? $"'{field}' is longer than {JsonlInput.MaxIdBytes} bytes" : null;

    internal static string TooManyEvents(string list) =>
        $"'{list}' has more than {MaxEventsPerList.ToString("N0", CultureInfo.InvariantCulture)} events (HistoryReader.MaxEventsPerList)";

    internal static (DateTimeOffset, string?) FromUnixSeconds(double seconds, string field)
    {
        if (!double.IsFinite(seconds) || seconds < MinTimestamp.ToUnixTimeSeconds() || seconds > MaxTimestamp.ToUnixTimeSeconds())
            return (default, OutOfRange(seconds.ToString("R", CultureInfo.InvariantCulture), field));
        return (DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000)), null);
    }

    internal static (DateTimeOffset, string?) FromUnixSeconds(long seconds, string field)
    {
        if (seconds < MinTimestamp.ToUnixTimeSeconds() || seconds > MaxTimestamp.ToUnixTimeSeconds())
            return (default, OutOfRange(seconds.ToString(CultureInfo.InvariantCulture), field));
        return (DateTimeOffset.FromUnixTimeSeconds(seconds), null);
    }

    internal static string? CheckRange(DateTimeOffset ts, string field) =>
        ts < MinTimestamp || ts > MaxTimestamp ? OutOfRange(ts.ToString("O", CultureInfo.InvariantCulture), field) : null;

    private static string OutOfRange(string value, string field) =>
        $"'{field}' = {value} is outside {MinTimestamp:yyyy-MM-dd}..{MaxTimestamp:yyyy-MM-dd} (Unix seconds expected, not milliseconds)";

    private static InputFormatException Bad(string source, long line, string detail) => new(source, line, detail);
}
