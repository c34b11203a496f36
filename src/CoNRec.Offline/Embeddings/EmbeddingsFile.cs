using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using CoNRec.Core;

namespace CoNRec.Offline.Embeddings;

/// <summary>
/// User-supplied (or <see cref="ItemEmbedder"/>-built) item embeddings as JSONL: <c>{"item_id":"i1","embedding":[0.1,...]}</c>
/// per line. Loading checks every line (same dimension as the first line, finite values, at most
/// <see cref="ItemEmbeddings.MaxDimension"/>, unique ids) and names the line of the first problem.
/// </summary>
public static class EmbeddingsFile
{
    public static void Save(ItemEmbeddings embeddings, string path)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        for (int i = 0; i < embeddings.Count; i++)
        {
            buffer.SetLength(0);
            using (var w = new Utf8JsonWriter(buffer, options))
            {
                w.WriteStartObject();
                w.WriteString("item_id", embeddings.ItemIds[i]);
                w.WriteStartArray("embedding");
                // float round-trips exactly through its shortest decimal form, so Load(Save(e)) == e bit for bit.
                foreach (var v in embeddings.Row(i)) w.WriteNumberValue(v);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            buffer.WriteByte((byte)'\n');
            buffer.Position = 0;
            buffer.CopyTo(file);
        }
    }

    public static ItemEmbeddings Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"embeddings file {path} does not exist", path);
        var ids = new List<string>();
        var values = new List<float>();
        var lineOf = new Dictionary<string, long>(StringComparer.Ordinal);
        int dimension = -1;
        long firstLine = 0;
        using var stream = File.OpenRead(path);
        foreach (var (line, bytes) in JsonlInput.ReadLines(stream, path))
        {
            int before = values.Count;
            var id = ParseLine(bytes, path, line, values);
            int dim = values.Count - before;
            if (dimension < 0)
            {
                dimension = dim;
                firstLine = line;
            }
            else if (dim != dimension)
                throw new InputFormatException(path, line, $"'embedding' has {dim} values; line {firstLine} has {dimension}, and every line must have the same dimension");
            if (!lineOf.TryAdd(id, line)) throw new InputFormatException(path, line, $"'item_id' '{id}' already appeared on line {lineOf[id]}");
            ids.Add(id);
        }
        if (dimension < 0) throw new InvalidDataException($"{path} has no embeddings");
        return new ItemEmbeddings(ids, [.. values], dimension);
    }

    private static string ParseLine(byte[] json, string source, long line, List<float> values)
    {
        string? id = null;
        bool sawEmbedding = false;
        try
        {
            var r = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) throw new InputFormatException(source, line, "line must be a JSON object");
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("item_id"u8))
                {
                    r.Read();
                    if (r.TokenType != JsonTokenType.String) throw new InputFormatException(source, line, "'item_id' must be a string");
                    id = r.GetString()!;
                    if (id.Length == 0) throw new InputFormatException(source, line, "'item_id' must not be empty");
                    if (Encoding.UTF8.GetByteCount(id) > JsonlInput.MaxIdBytes)
                        throw new InputFormatException(source, line, $"'item_id' is longer than {JsonlInput.MaxIdBytes} bytes");
                }
                else if (r.ValueTextEquals("embedding"u8))
                {
                    if (sawEmbedding) throw new InputFormatException(source, line, "'embedding' appears twice");
                    sawEmbedding = true;
                    r.Read();
                    if (r.TokenType != JsonTokenType.StartArray) throw new InputFormatException(source, line, "'embedding' must be an array of numbers");
                    int n = 0;
                    while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    {
                        if (r.TokenType != JsonTokenType.Number || !r.TryGetSingle(out var v) || !float.IsFinite(v))
                            throw new InputFormatException(source, line, $"'embedding[{n}]' must be a finite number (float range)");
                        if (++n > ItemEmbeddings.MaxDimension)
                            throw new InputFormatException(source, line, $"'embedding' has more than {ItemEmbeddings.MaxDimension} values");
                        values.Add(v);
                    }
                    if (n == 0) throw new InputFormatException(source, line, "'embedding' is empty");
                }
                else
                {
                    r.Read();
                    r.Skip();
                }
            }
            if (r.TokenType != JsonTokenType.EndObject) throw new InputFormatException(source, line, "unterminated JSON object");
            if (r.Read()) throw new InputFormatException(source, line, "trailing content after the JSON object");
        }
        catch (JsonException e) { throw new InputFormatException(source, line, $"invalid JSON ({e.Message})"); }
        if (id is null) throw new InputFormatException(source, line, "missing field 'item_id'");
        if (!sawEmbedding) throw new InputFormatException(source, line, "missing field 'embedding'");
        return id;
    }
}
