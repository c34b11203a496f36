using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CoNRec.Core;

namespace CoNRec.Offline.Data;

/// <summary>
/// The generic dataset format: a directory with <c>items.jsonl</c>
/// (<c>{"item_id","title","categories":[..],"numbers":{"year":1995}}</c>) and <c>interactions.jsonl</c>
/// (<c>{"user_id","item_id","ts","kind","reason"?,"rating"?}</c>, ts as ISO-8601 or unix seconds).
/// Unknown fields are skipped (producers may add fields); known fields are strictly checked and a bad row
/// is an <see cref="InputFormatException"/> naming file, line and field.
/// </summary>
public static class DatasetFiles
{
    public const string ItemsFile = "items.jsonl";
    public const string InteractionsFile = "interactions.jsonl";
    public const double MaxRating = 10;
    public const int MaxCategories = 1024;
    public const int MaxNumbers = 1024;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Save(InteractionDataset ds, string dir)
    {
        Directory.CreateDirectory(dir);
        WriteLines(Path.Combine(dir, ItemsFile), ds.Items, static (w, item) =>
        {
            w.WriteString("item_id", item.ItemId);
            w.WriteString("title", item.Title);
            w.WriteStartArray("categories");
            foreach (var c in item.Categories) w.WriteStringValue(c);
            w.WriteEndArray();
            w.WriteStartObject("numbers");
            // Sorted keys: the same dataset always gives the same bytes, whatever dictionary built it.
            foreach (var kv in item.Numbers.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteNumber(kv.Key, kv.Value);
            w.WriteEndObject();
        });
        WriteLines(Path.Combine(dir, InteractionsFile), ds.Interactions, static (w, x) =>
        {
            w.WriteString("user_id", x.UserId);
            w.WriteString("item_id", x.ItemId);
            w.WriteString("ts", x.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture));
            w.WriteString("kind", KindName(x.Kind));
            if (x.Reason is not null) w.WriteString("reason", x.Reason);
            if (x.Rating is { } r) w.WriteNumber("rating", r);
        });
    }

    /// <summary>Loads a dataset saved by <see cref="Save"/> or written by hand; <paramref name="name"/> defaults to the directory name.</summary>
    public static InteractionDataset Load(string dir, string? name = null)
    {
        var itemsPath = Path.Combine(dir, ItemsFile);
        var interactionsPath = Path.Combine(dir, InteractionsFile);
        var items = new List<ItemFeatures>();
        var lineOf = new Dictionary<string, long>(StringComparer.Ordinal);
        using (var s = OpenOrThrow(itemsPath))
        {
            foreach (var (line, bytes) in JsonlInput.ReadLines(s, itemsPath))
            {
                var item = ParseItem(bytes, itemsPath, line);
                if (!lineOf.TryAdd(item.ItemId, line))
                    throw new InputFormatException(itemsPath, line, $"'item_id' '{item.ItemId}' already appeared on line {lineOf[item.ItemId]}");
                items.Add(item);
            }
        }
        var interactions = new List<Interaction>();
        using (var s = OpenOrThrow(interactionsPath))
        {
            foreach (var (line, bytes) in JsonlInput.ReadLines(s, interactionsPath))
            {
                var x = ParseInteraction(bytes, interactionsPath, line);
                if (!lineOf.ContainsKey(x.ItemId))
                    throw new InputFormatException(interactionsPath, line, $"'item_id' '{x.ItemId}' is not in {ItemsFile}");
                interactions.Add(x);
            }
        }
        return InteractionDataset.Create(name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))), items, interactions);
    }

    public static string KindName(FeedbackKind kind) => kind switch
    {
        FeedbackKind.Negative => "negative",
        FeedbackKind.Click => "click",
        FeedbackKind.Favorite => "favorite",
        FeedbackKind.Purchase => "purchase",
        FeedbackKind.Rating => "rating",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown feedback kind"),
    };

    public static FeedbackKind? ParseKind(string text) => text switch
    {
        "negative" => FeedbackKind.Negative,
        "click" => FeedbackKind.Click,
        "favorite" => FeedbackKind.Favorite,
        "purchase" => FeedbackKind.Purchase,
        "rating" => FeedbackKind.Rating,
        _ => null,
    };

    private static FileStream OpenOrThrow(string path) =>
        File.Exists(path) ? File.OpenRead(path) : throw new FileNotFoundException($"dataset file {path} does not exist", path);

    private static void WriteLines<T>(string path, IEnumerable<T> rows, Action<Utf8JsonWriter, T> write)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new MemoryStream();
        foreach (var row in rows)
        {
            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer, WriterOptions))
            {
                w.WriteStartObject();
                write(w, row);
                w.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
            buffer.Position = 0;
            buffer.CopyTo(file);
        }
    }

    private static ItemFeatures ParseItem(byte[] bytes, string source, long line)
    {
        using var doc = ParseObject(bytes, source, line);
        string? id = null, title = null;
        List<string>? categories = null;
        Dictionary<string, double>? numbers = null;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            switch (p.Name)
            {
                case "item_id": id = ReadId(p.Value, "item_id", source, line); break;
                case "title":
                    if (p.Value.ValueKind != JsonValueKind.String) throw new InputFormatException(source, line, "'title' must be a string");
                    title = p.Value.GetString()!;
                    break;
                case "categories":
                    if (p.Value.ValueKind != JsonValueKind.Array) throw new InputFormatException(source, line, "'categories' must be an array of strings");
                    categories = [];
                    foreach (var c in p.Value.EnumerateArray())
                    {
                        if (c.ValueKind != JsonValueKind.String || c.GetString() is not { Length: > 0 } cs)
                            throw new InputFormatException(source, line, $"'categories[{categories.Count}]' must be a non-empty string");
                        if (categories.Count == MaxCategories) throw new InputFormatException(source, line, $"'categories' has more than {MaxCategories} entries");
                        categories.Add(cs);
                    }
                    break;
                case "numbers":
                    if (p.Value.ValueKind != JsonValueKind.Object) throw new InputFormatException(source, line, "'numbers' must be an object of name: number");
                    numbers = new Dictionary<string, double>(StringComparer.Ordinal);
                    foreach (var n in p.Value.EnumerateObject())
                    {
                        if (n.Name.Length == 0) throw new InputFormatException(source, line, "'numbers' has an empty name");
                        if (n.Value.ValueKind != JsonValueKind.Number || !n.Value.TryGetDouble(out var v) || !double.IsFinite(v))
                            throw new InputFormatException(source, line, $"'numbers.{n.Name}' must be a finite number");
                        if (numbers.Count == MaxNumbers) throw new InputFormatException(source, line, $"'numbers' has more than {MaxNumbers} entries");
                        numbers[n.Name] = v;
                    }
                    break;
            }
        }
        if (id is null) throw new InputFormatException(source, line, "missing field 'item_id'");
        return new ItemFeatures(id, title ?? "", categories ?? [], numbers ?? new Dictionary<string, double>());
    }

    private static Interaction ParseInteraction(byte[] bytes, string source, long line)
    {
        using var doc = ParseObject(bytes, source, line);
        string? user = null, item = null, reason = null;
        DateTimeOffset? ts = null;
        FeedbackKind? kind = null;
        double? rating = null;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            switch (p.Name)
            {
                case "user_id": user = ReadId(p.Value, "user_id", source, line); break;
                case "item_id": item = ReadId(p.Value, "item_id", source, line); break;
                case "ts": ts = ReadTimestamp(p.Value, source, line); break;
                case "kind":
                    if (p.Value.ValueKind != JsonValueKind.String || ParseKind(p.Value.GetString()!) is not { } k)
                        throw new InputFormatException(source, line, "'kind' must be one of negative, click, favorite, purchase, rating");
                    kind = k;
                    break;
                case "reason":
                    if (p.Value.ValueKind == JsonValueKind.Null) break;
                    if (p.Value.ValueKind != JsonValueKind.String) throw new InputFormatException(source, line, "'reason' must be a string");
                    reason = p.Value.GetString();
                    if (reason!.Length > JsonlInput.MaxIdBytes) throw new InputFormatException(source, line, $"'reason' is longer than {JsonlInput.MaxIdBytes} characters");
                    break;
                case "rating":
                    if (p.Value.ValueKind == JsonValueKind.Null) break;
                    if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out var r) || !double.IsFinite(r) || r < 0 || r > MaxRating)
                        throw new InputFormatException(source, line, $"'rating' must be a number in [0, {MaxRating}]");
                    rating = r;
                    break;
            }
        }
        if (user is null) throw new InputFormatException(source, line, "missing field 'user_id'");
        if (item is null) throw new InputFormatException(source, line, "missing field 'item_id'");
        if (ts is null) throw new InputFormatException(source, line, "missing field 'ts'");
        if (kind is null) throw new InputFormatException(source, line, "missing field 'kind'");
        // A rating row without its value could be neither positive nor neutral, so it would silently vanish from evaluation.
        if (kind == FeedbackKind.Rating && rating is null) throw new InputFormatException(source, line, "kind 'rating' needs a 'rating' value");
        return new Interaction(user, item, ts.Value, kind.Value, reason, rating);
    }

    private static JsonDocument ParseObject(byte[] bytes, string source, long line)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new InputFormatException(source, line, $"invalid JSON ({e.Message})"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw new InputFormatException(source, line, "line must be a JSON object");
        }
        return doc;
    }

    private static string ReadId(JsonElement e, string field, string source, long line)
    {
        if (e.ValueKind != JsonValueKind.String) throw new InputFormatException(source, line, $"'{field}' must be a string");
        var value = e.GetString()!;
        if (value.Length == 0) throw new InputFormatException(source, line, $"'{field}' must not be empty");
        if (Encoding.UTF8.GetByteCount(value) > JsonlInput.MaxIdBytes)
            throw new InputFormatException(source, line, $"'{field}' is longer than {JsonlInput.MaxIdBytes} bytes");
        return value;
    }

    private static DateTimeOffset ReadTimestamp(JsonElement e, string source, long line)
    {
        if (e.ValueKind == JsonValueKind.Number)
        {
            // Unix seconds, fractions allowed; the range is what DateTimeOffset can hold (years 1..9999).
            if (!e.TryGetDouble(out var s) || !double.IsFinite(s) || s < -62135596800 || s > 253402300799)
                throw new InputFormatException(source, line, "'ts' as a number must be finite unix seconds between years 1 and 9999");
            return DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(s * 1000));
        }
        if (e.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(e.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var ts))
            return ts;
        throw new InputFormatException(source, line, "'ts' must be an ISO-8601 string or unix seconds");
    }
}
