using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Tests;

namespace CoNRec.Batch.Tests;

/// <summary>
/// A complete tiny generator bundle on disk: random Qwen3 checkpoint + real byte-level BPE tokenizer with SID tokens,
/// codebook and catalog from the sample generator, bundle.json, and a histories file with a bad line, a user whose
/// items are all unknown, and users with positives.
/// </summary>
public sealed class TestBundle : IDisposable
{
    public const int Levels = 3, Codes = 8;
    public CoNRec.Testing.TempDir Dir { get; } = new();
    public string BundleDir => Dir.File("bundle");
    public string Histories => Dir.File("histories.jsonl");
    public Dictionary<string, ulong> Catalog { get; } = [];
    public SidLayout Layout { get; } = new(Levels, Codes);
    public List<string> Users { get; } = [];
    public int BadLines { get; private set; }

    public TestBundle(int users = 40, int items = 60, int beamWidth = 8, int topK = 5, int seed = 3, int badLines = 1)
    {
        Directory.CreateDirectory(BundleDir);
        SampleData.Write(BundleDir, new SampleData.Spec(Users: 1, Items: items, Levels: Levels, Codes: Codes, Dimension: 8, SidsPerUser: 1, Seed: seed));
        File.Delete(Path.Combine(BundleDir, "predictions.jsonl"));
        using (var s = File.OpenRead(Path.Combine(BundleDir, "catalog.jsonl")))
            foreach (var (line, bytes) in JsonlInput.ReadLines(s, "catalog"))
            {
                var e = JsonlInput.ParseCatalogLine(bytes, Layout, "catalog", line);
                Catalog[e.ItemId] = e.Sid;
            }
        string model = Path.Combine(BundleDir, "model");
        Directory.CreateDirectory(model);
        TestTokenizerBuilder.Write(model, Levels, Codes);
        int vocab = TestTokenizerBuilder.FirstSidId + Levels * Codes;
        TinyCheckpoint.Write(model, TinyCheckpoint.Config(vocab: vocab, hidden: 32, layers: 2), seed: seed);
        File.WriteAllText(Path.Combine(BundleDir, "bundle.json"), JsonSerializer.Serialize(new
        {
            model = "model", codebook = "codebook.safetensors", catalog = "catalog.jsonl", beam_width = beamWidth, top_k = topK,
            prompt = new { context = "negatives_and_positives", max_tokens = 256 },
        }));
        WriteHistories(users, seed, badLines);
    }

    private void WriteHistories(int users, int seed, int badLines)
    {
        var rng = new Random(seed);
        var items = Catalog.Keys.Order(StringComparer.Ordinal).ToArray();
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        using var w = new StreamWriter(Histories);
        for (int u = 0; u < users; u++)
        {
            string id = $"u{u}";
            Users.Add(id);
            object Event(string item, string kindName, string kind) => new Dictionary<string, object> { ["item_id"] = item, ["ts"] = t0 + rng.Next(1_000_000), [kindName] = kind };
            // u3 knows only items outside the catalog: nothing to prompt with.
            var negatives = u == 3 ? new[] { Event("gone-1", "reason", "dislike") }
                : Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => Event(rng.Next(10) == 0 ? "unknown-item" : items[rng.Next(items.Length)], "reason", "dislike")).ToArray();
            var positives = Enumerable.Range(0, rng.Next(4)).Select(_ => Event(items[rng.Next(items.Length)], "type", "click")).ToArray();
            w.WriteLine(JsonSerializer.Serialize(new { user_id = id, negatives, positives = u == 3 ? [] : positives }));
            if (u == 5 && badLines > 0)
                for (int b = 0; b < badLines; b++) { w.WriteLine("""{"user_id": "broken", "negatives": [{"item_id": "x"}]}"""); BadLines++; }
        }
    }

    public void Dispose() => Dir.Dispose();
}
