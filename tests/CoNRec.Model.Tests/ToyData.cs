using CoNRec.Core;
using CoNRec.Model.Prompting;
using CoNRec.Model.Training;
using CoNRec.Testing;

namespace CoNRec.Model.Tests;

/// <summary>Toy catalogs and users shared by the fine-tuning, LoRA and GRPO tests (L = 3, K = 4, d = 8).</summary>
internal static class ToyData
{
    public const int Levels = 3, Codes = 4;
    public static readonly DateTimeOffset T0 = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly SidLayout Layout = new(Levels, Codes);

    /// <summary>A random codebook written to <paramref name="name"/> and <paramref name="count"/> items with distinct SIDs ("i0", "i1", ...).</summary>
    public static (Codebook Codebook, string Path, Dictionary<string, ulong> Catalog) Catalog(TempDir dir, int count, int seed, string name = "codebook.in.safetensors")
    {
        var rng = new Random(seed);
        var values = Enumerable.Range(0, Levels * Codes * 8).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var codebook = Codebook.Create(Levels, Codes, 8, values);
        string path = dir.File(name);
        File.WriteAllBytes(path, codebook.SourceBytes.ToArray());
        var sids = Enumerable.Range(0, Codes * Codes * Codes).ToArray();
        rng.Shuffle(sids);
        var catalog = new Dictionary<string, ulong>();
        for (int i = 0; i < count; i++)
            catalog[$"i{i}"] = Layout.Pack([(uint)(sids[i] / 16), (uint)(sids[i] / 4 % 4), (uint)(sids[i] % 4)]);
        return (codebook, path, catalog);
    }

    /// <summary>Users with 1–4 distinct disliked items an hour apart; the target is the newest of them.</summary>
    public static List<SftExample> CopyLastUsers(int count, IReadOnlyList<string> items, Random rng, string prefix)
    {
        var users = new List<SftExample>();
        for (int u = 0; u < count; u++)
        {
            var picked = items.OrderBy(_ => rng.Next()).Take(1 + rng.Next(4)).ToList();
            var negatives = picked.Select((it, i) => new HistoryEvent(it, T0.AddHours(i), null)).ToList();
            users.Add(new SftExample(new UserHistory($"{prefix}{u}", negatives, []), T0.AddHours(picked.Count), [picked[^1]]));
        }
        return users;
    }
}
