using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>The bundle files besides the model: catalog.jsonl and bundle.json in the format <c>ModelBundle.Load</c> reads.</summary>
internal static class BundleWriter
{
    public static void WriteCatalog(string path, IReadOnlyDictionary<string, ulong> catalog, SidLayout layout)
    {
        using var stream = File.Create(path);
        Span<uint> codes = stackalloc uint[layout.Levels];
        var newline = "\n"u8.ToArray();
        // Sorted, so the same catalog always gives the same file (and the same bundle fingerprint).
        foreach (var (item, sid) in catalog.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            layout.Unpack(sid, codes);
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartObject();
                w.WriteString("item_id", item);
                w.WriteStartArray("sid");
                foreach (uint c in codes) w.WriteNumberValue(c);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            stream.Write(newline);
        }
    }

    public static void WriteManifest(string path, string modelDir, string codebookFile, string catalogFile, IReadOnlyList<string> sidFormats,
        PromptTemplate prompt, int beamWidth, int topK)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("model", modelDir);
        w.WriteString("codebook", codebookFile);
        w.WriteString("catalog", catalogFile);
        w.WriteStartArray("sid_tokens");
        foreach (var f in sidFormats) w.WriteStringValue(f);
        w.WriteEndArray();
        w.WritePropertyName("prompt");
        WritePrompt(w, prompt);
        w.WriteNumber("beam_width", beamWidth);
        w.WriteNumber("top_k", topK);
        w.WriteEndObject();
    }

    /// <summary>Every field <see cref="PromptTemplate.FromJson"/> reads, so no default can differ from training.</summary>
    public static void WritePrompt(Utf8JsonWriter w, PromptTemplate t)
    {
        w.WriteStartObject();
        w.WriteString("template", t.Text);
        w.WriteString("positives_clause", t.PositivesClause);
        w.WriteString("separator", t.Separator);
        w.WriteString("context", PromptTemplate.ContextName(t.Context));
        w.WriteNumber("recent_days", t.RecentDays);
        w.WriteNumber("max_negatives", t.MaxNegatives);
        w.WriteNumber("max_positives", t.MaxPositives);
        w.WriteNumber("max_tokens", t.MaxTokens);
        w.WriteEndObject();
    }
}
