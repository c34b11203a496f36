using System.Text.Json.Nodes;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>
/// What the console tests run against: a real redis-server, two published generations of the same sample data (the
/// first one retired, so it is a rollback target), a directory of sample files, and one real service on loopback.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    public RedisServerProcess Redis { get; } = new RedisServerProcess().Start();
    public TempDir Data { get; } = TempDir.WithSample(new SampleData.Spec(Users: 30, Items: 200, Levels: 3, Codes: 32, Dimension: 16));
    public TempDir Samples { get; } = new();
    public string Prefix { get; } = "console" + Guid.NewGuid().ToString("N")[..6];
    public Codebook Codebook { get; private set; } = null!;
    public GenerationMeta First { get; private set; } = null!;
    public GenerationMeta Second { get; private set; } = null!;
    public ServiceHost Host { get; private set; } = null!;
    public List<PredictionEntry> Predictions { get; } = [];
    public Dictionary<string, ulong> Catalog { get; } = [];

    public string AdminUrl => $"http://127.0.0.1:{Host.AdminPort}";

    public async Task InitializeAsync()
    {
        Codebook = SampleGenerationFiles.Read(Data, Predictions, Catalog);
        using (var mux = await RedisConnection.ConnectAsync(Redis.Endpoint, allowAdmin: true))
        {
            var loader = new GenerationLoader(mux, new RedisKeys(Prefix), new StoreOptions { KeyPrefix = Prefix });
            First = (await loader.LoadAsync(Data.File("codebook.safetensors"), Data.File("catalog.jsonl"), Data.File("predictions.jsonl"), publish: true)).Meta;
            Second = (await loader.LoadAsync(Data.File("codebook.safetensors"), Data.File("catalog.jsonl"), Data.File("predictions.jsonl"), publish: true)).Meta;
        }
        File.WriteAllLines(Samples.File("labelled.jsonl"), TuneSamples().Select(s => s.ToJsonString()));
        File.WriteAllLines(Samples.File("labelled.csv"), ["user_id,item_id,sid,disliked", .. TuneSamples().Select(CsvLine)]);
        File.WriteAllText(Samples.File("notes.txt"), "not a sample file\n");
        Host = await ServiceHost.StartAsync(Redis.Endpoint, Prefix, "--Admin:SamplesDirectory", Samples.Path);
        await Host.WaitReadyAsync(Second.Id);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Redis.Dispose();
        Data.Dispose();
        Samples.Dispose();
    }

    /// <summary>
    /// Labelled samples shaped like real ones: each of 10 users dislikes one of their own predicted SIDs (score 1) and the
    /// catalog items ranked 1st, 3rd and 6th closest to their predictions (below 0.99), and likes those ranked 2nd and 4th
    /// plus 2 others, so the curve has a real trade-off. One sample of a user without predictions and one of an unknown
    /// item are skipped: 82 samples, 80 scored (40 disliked, 40 liked).
    /// </summary>
    public List<JsonObject> TuneSamples()
    {
        var samples = new List<JsonObject>();
        foreach (var p in Predictions.Take(10))
        {
            var scored = Catalog.Keys.Order(StringComparer.Ordinal)
                .Select(i => (Item: i, Score: LoadedServiceFixture.Reference(Codebook, Catalog[i], p.Sids).Score)).Where(x => x.Score < 0.99).ToList();
            var ranked = scored.OrderByDescending(x => x.Score).ThenBy(x => x.Item, StringComparer.Ordinal).Select(x => x.Item).ToList();
            var disliked = new[] { ranked[0], ranked[2], ranked[5] };
            var liked = new[] { ranked[1], ranked[3] }.Concat(scored.Select(x => x.Item).Where(i => !disliked.Contains(i) && i != ranked[1] && i != ranked[3]).Take(2));
            samples.Add(new JsonObject { ["user_id"] = p.UserId, ["item_id"] = "d-" + p.UserId, ["sid"] = SidJson(p.Sids[0]), ["disliked"] = true });
            foreach (var item in disliked) samples.Add(new JsonObject { ["user_id"] = p.UserId, ["item_id"] = item, ["disliked"] = true });
            foreach (var item in liked) samples.Add(new JsonObject { ["user_id"] = p.UserId, ["item_id"] = item, ["disliked"] = false });
        }
        samples.Add(new JsonObject { ["user_id"] = "nobody", ["item_id"] = "i1", ["disliked"] = true });
        samples.Add(new JsonObject { ["user_id"] = Predictions[0].UserId, ["item_id"] = "not-in-catalog", ["disliked"] = false });
        return samples;
    }

    private static string CsvLine(JsonObject s) =>
        $"{s["user_id"]},{s["item_id"]},{(s["sid"] is JsonArray sid ? string.Join(' ', sid.Select(c => c!.ToString())) : "")},{s["disliked"]!.GetValue<bool>().ToString().ToLowerInvariant()}";

    public JsonArray SidJson(ulong sid)
    {
        var codes = new uint[Codebook.Levels];
        Codebook.Layout.Unpack(sid, codes);
        return new JsonArray([.. codes.Select(c => (JsonNode)c)]);
    }
}
