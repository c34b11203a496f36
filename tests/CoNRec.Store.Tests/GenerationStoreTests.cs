using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using StackExchange.Redis;
using Xunit;

namespace CoNRec.Store.Tests;

public sealed class RedisGenerationStoreTests(RedisFixture fixture) : GenerationStoreTests(fixture.Connect()), IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Predictions_are_stored_as_compact_listpacks()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 200, Items: 100, Codes: 8192, Dimension: 8));
        var result = await Loader.LoadAsync(dir.File("codebook.safetensors"), dir.File("catalog.jsonl"), dir.File("predictions.jsonl"), publish: true);
        var encoding = await Db.ExecuteAsync("OBJECT", "ENCODING", (string)Keys.UserBucket(result.Meta, Enumerable.Range(0, result.Meta.UserBuckets).First(b => Db.KeyExists(Keys.UserBucket(result.Meta, b))))!);
        Assert.Equal("listpack", encoding.ToString());
    }
}

/// <summary>The same invariants on a three-master Redis Cluster: keys spread over every node, transactions within one slot.</summary>
public sealed class ClusterGenerationStoreTests(RedisClusterFixture fixture) : GenerationStoreTests(fixture.Connect()), IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task A_generation_spreads_over_every_node_and_reads_back_through_redirections()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 300, Items: 200));
        var result = await Loader.LoadAsync(dir.File("codebook.safetensors"), dir.File("catalog.jsonl"), dir.File("predictions.jsonl"), publish: true);
        // Every master holds some of this generation's buckets, so reads cross nodes (the client follows the slot map).
        var perNode = fixture.Cluster.Nodes.Select(n => Mux.GetServer(n.Endpoint).Keys(pattern: Keys.Prefix + ":g:" + result.Meta.Id + ":*").Count()).ToList();
        Assert.All(perNode, c => Assert.True(c > 0, $"a node holds no bucket: [{string.Join(", ", perNode)}]"));
        var layout = Codebook.Load(dir.File("codebook.safetensors")).Layout;
        var lines = File.ReadLines(dir.File("predictions.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        var destination = new ulong[256];
        foreach (var line in lines)
        {
            var user = line.GetProperty("user_id").GetString()!;
            var value = await ReadUserAsync(result.Meta, user);
            Assert.False(value.IsNull, user);
            Assert.Null(SidSetCodec.TryDecodeProfile((byte[])value!, layout, destination, out var counts));
            Assert.Equal(line.GetProperty("sids").GetArrayLength(), counts.Predicted);
        }
    }
}

public sealed class GarnetGenerationStoreTests(GarnetFixture fixture) : GenerationStoreTests(fixture.Connect()), IClassFixture<GarnetFixture>;

/// <summary>Store invariants, run against real redis-server and against embedded Garnet.</summary>
public abstract class GenerationStoreTests : IDisposable
{
    protected ConnectionMultiplexer Mux { get; }
    protected IDatabase Db { get; }
    protected RedisKeys Keys { get; }
    protected StoreOptions Options { get; }
    protected GenerationRegistry Registry { get; }
    protected GenerationLoader Loader { get; }
    private readonly TempDir _dir;

    protected GenerationStoreTests(ConnectionMultiplexer mux)
    {
        Mux = mux;
        Db = mux.GetDatabase();
        Options = new StoreOptions { KeyPrefix = "t" + Guid.NewGuid().ToString("N")[..8], GracePeriod = TimeSpan.FromMinutes(10), WritingTtl = TimeSpan.FromHours(1) };
        Keys = new RedisKeys(Options.KeyPrefix);
        Registry = new GenerationRegistry(Db, Keys, Options);
        Loader = new GenerationLoader(mux, Keys, Options);
        _dir = TempDir.WithSample(new SampleData.Spec(Users: 40, Items: 120));
    }

    public void Dispose()
    {
        _dir.Dispose();
        Mux.Dispose();
    }

    private Task<LoadResult> LoadSampleAsync(bool publish = true) =>
        Loader.LoadAsync(_dir.File("codebook.safetensors"), _dir.File("catalog.jsonl"), _dir.File("predictions.jsonl"), publish);

    protected async Task<RedisValue> ReadUserAsync(GenerationMeta meta, string user) =>
        await Db.HashGetAsync(Keys.UserKey(meta, user), user);

    [Fact]
    public async Task A_generation_being_written_is_never_visible_and_cannot_be_published()
    {
        var g1 = (await LoadSampleAsync()).Meta;
        var codebook = Codebook.Load(_dir.File("codebook.safetensors"));
        var writer = await GenerationWriter.BeginAsync(Db, Keys, Options, codebook, expectedUsers: 10, expectedItems: 0, source: "test");
        await writer.AddPredictionsAsync("new-user", new[] { codebook.Layout.Pack([1, 2, 3]) });
        await writer.FlushAsync();

        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync());
        var ex = await Assert.ThrowsAsync<PublishException>(() => Registry.PublishAsync(writer.Meta.Id));
        Assert.Contains("still being written", ex.Message);
        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync());
        Assert.True((await ReadUserAsync(g1, "new-user")).IsNull);

        var complete = await writer.CompleteAsync();
        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync()); // complete is still invisible
        await Registry.PublishAsync(complete.Id);
        Assert.Equal(complete.Id, await Registry.GetActiveIdAsync());
        Assert.False((await ReadUserAsync(complete, "new-user")).IsNull);
    }

    [Fact]
    public async Task An_abandoned_writer_leaves_only_expiring_keys()
    {
        var codebook = Codebook.Load(_dir.File("codebook.safetensors"));
        var writer = await GenerationWriter.BeginAsync(Db, Keys, Options, codebook, expectedUsers: 5, expectedItems: 5, source: "test");
        await writer.AddPredictionsAsync("u1", new[] { codebook.Layout.Pack([1, 1, 1]) });
        await writer.AddCatalogAsync(new CatalogEntry("i1", codebook.Layout.Pack([1, 1, 1])));
        await writer.FlushAsync();
        // "crash": the writer is dropped without CompleteAsync
        foreach (var key in new[] { Keys.Meta(writer.Meta.Id), Keys.UserKey(writer.Meta, "u1"), Keys.ItemBucket(writer.Meta.Id, RedisKeys.Bucket("i1", writer.Meta.ItemBuckets)) })
        {
            var ttl = await Db.KeyTimeToLiveAsync(key);
            Assert.True(ttl is { } t && t > TimeSpan.Zero && t <= Options.WritingTtl, $"{key} should expire, ttl={ttl}");
        }
        Assert.Null(await Registry.GetActiveIdAsync());
    }

    [Fact]
    public async Task Rollback_republishes_the_previous_generation_and_grace_expiry_moves_with_it()
    {
        var g1 = (await LoadSampleAsync()).Meta;
        var g2 = (await LoadSampleAsync()).Meta;
        Assert.Equal(g2.Id, await Registry.GetActiveIdAsync());
        Assert.Equal(GenerationStatus.Retired, (await Registry.GetMetaAsync(g1.Id))!.Status);
        var g1Ttl = await Db.KeyTimeToLiveAsync(Keys.Meta(g1.Id));
        Assert.True(g1Ttl is { } t1 && t1 <= Options.GracePeriod && t1 > TimeSpan.Zero, $"retired generation should expire after the grace period, ttl={g1Ttl}");
        Assert.False((await ReadUserAsync(g1, "u3")).IsNull); // still readable during grace

        await Registry.PublishAsync(g1.Id); // rollback
        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync());
        Assert.Null(await Db.KeyTimeToLiveAsync(Keys.Meta(g1.Id)));
        Assert.Null(await Db.KeyTimeToLiveAsync(Keys.UserKey(g1, "u3")));
        Assert.NotNull(await Db.KeyTimeToLiveAsync(Keys.Meta(g2.Id)));
        // a shared codebook must not be expired by retiring a generation that used it
        Assert.Null(await Db.KeyTimeToLiveAsync(Keys.Codebook(g1.CodebookHash)));
    }

    [Fact]
    public async Task Every_switch_is_audited_with_its_actor_and_a_refused_publish_leaves_no_entry()
    {
        var options = new StoreOptions { KeyPrefix = Options.KeyPrefix, GracePeriod = Options.GracePeriod, WritingTtl = Options.WritingTtl, AuditLogLength = 3 };
        var registry = new GenerationRegistry(Db, Keys, options);
        var g1 = (await LoadSampleAsync(publish: false)).Meta;
        var g2 = (await LoadSampleAsync(publish: false)).Meta;
        await registry.PublishAsync(g1.Id, "ops-a");
        await registry.PublishAsync(g2.Id, "ops-b");
        await registry.PublishAsync(g1.Id, "ops-c"); // g1 served before: a rollback

        var switches = await registry.GetSwitchesAsync(10);
        Assert.Equal([("rollback", g1.Id, (string?)g2.Id, "ops-c"), ("publish", g2.Id, g1.Id, "ops-b"), ("publish", g1.Id, null, "ops-a")],
            switches.Select(s => (s.Action, s.Generation, s.Previous, s.Actor)));
        Assert.True(switches[0].Time >= switches[1].Time && switches[1].Time >= switches[2].Time);

        // Refused: nothing switched, nothing audited.
        await Db.KeyDeleteAsync(Keys.Codebook(g2.CodebookHash));
        await Assert.ThrowsAsync<PublishException>(() => registry.PublishAsync(g2.Id, "ops-d"));
        Assert.Equal(3, (await registry.GetSwitchesAsync(10)).Count);

        // Capped at AuditLogLength, newest kept; the loader's own publish names itself.
        await Db.StringSetAsync(Keys.Codebook(g1.CodebookHash), File.ReadAllBytes(_dir.File("codebook.safetensors")));
        var g3 = (await new GenerationLoader(Mux, Keys, options).LoadAsync(_dir.File("codebook.safetensors"), _dir.File("catalog.jsonl"), _dir.File("predictions.jsonl"), publish: true)).Meta;
        switches = await registry.GetSwitchesAsync(10);
        Assert.Equal(3, switches.Count);
        Assert.Equal(("publish", g3.Id, (string?)g1.Id, "load"), (switches[0].Action, switches[0].Generation, switches[0].Previous, switches[0].Actor));
        Assert.Equal("ops-b", switches[^1].Actor);
    }

    [Fact]
    public async Task A_generation_names_its_codebook_by_content_hash_and_a_tampered_blob_is_refused()
    {
        var g1 = (await LoadSampleAsync()).Meta;
        var codebook = Codebook.Load(_dir.File("codebook.safetensors"));
        Assert.Equal(codebook.ContentHash, g1.CodebookHash);
        Assert.Equal(Codebook.HashOf(File.ReadAllBytes(_dir.File("codebook.safetensors"))), g1.CodebookHash);

        // A second generation with a different codebook gets its own blob; the first one's stays as it was.
        using var other = TempDir.WithSample(new SampleData.Spec(Users: 10, Items: 20, Seed: 99));
        var g2 = (await Loader.LoadAsync(other.File("codebook.safetensors"), other.File("catalog.jsonl"), other.File("predictions.jsonl"), publish: false)).Meta;
        Assert.NotEqual(g1.CodebookHash, g2.CodebookHash);
        var blob1 = (byte[])(await Db.StringGetAsync(Keys.Codebook(g1.CodebookHash)))!;
        Assert.Equal(g1.CodebookHash, Codebook.HashOf(blob1));

        await Db.StringSetAsync(Keys.Codebook(g2.CodebookHash), blob1); // corrupt g2's codebook
        var ex = await Assert.ThrowsAsync<PublishException>(() => Registry.PublishAsync(g2.Id));
        Assert.Contains("does not match", ex.Message);
        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync());
    }

    [Fact]
    public async Task Publish_refuses_a_generation_with_missing_data()
    {
        var g = (await LoadSampleAsync(publish: false)).Meta;
        var someBucket = Enumerable.Range(0, g.UserBuckets).Select(b => Keys.UserBucket(g, b)).First(k => Db.KeyExists(k));
        await Db.KeyDeleteAsync(someBucket);
        var ex = await Assert.ThrowsAsync<PublishException>(() => Registry.PublishAsync(g.Id));
        Assert.Contains("users readable", ex.Message);
        Assert.Null(await Registry.GetActiveIdAsync());
    }

    [Fact]
    public async Task A_malformed_line_fails_the_load_by_line_number_and_the_previous_generation_keeps_serving()
    {
        var g1 = (await LoadSampleAsync()).Meta;
        var lines = File.ReadAllLines(_dir.File("predictions.jsonl")).ToList();
        lines[2] = "{\"user_id\": \"bad\", \"sids\": [[1, 2]]}";
        var bad = _dir.File("bad-predictions.jsonl");
        File.WriteAllLines(bad, lines);
        var ex = await Assert.ThrowsAsync<InputFormatException>(() => Loader.LoadAsync(_dir.File("codebook.safetensors"), _dir.File("catalog.jsonl"), bad, publish: true));
        Assert.Contains("bad-predictions.jsonl:3:", ex.Message);
        Assert.Contains("expected 3", ex.Message);
        Assert.Equal(g1.Id, await Registry.GetActiveIdAsync());
        var all = await Registry.ListAsync();
        Assert.Equal([g1.Id], all.Select(m => m.Id)); // the failed generation was removed
    }

    [Fact]
    public async Task Loader_counts_distinct_users_and_items_and_marks_complete()
    {
        var result = await LoadSampleAsync(publish: false);
        Assert.Equal(40, result.Meta.Users);
        Assert.Equal(120, result.Meta.Items);
        Assert.Equal(40 * 20, result.Meta.Sids);
        Assert.Equal(GenerationStatus.Complete, result.Meta.Status);
        Assert.Null(await Registry.GetActiveIdAsync());
        // round trip: a user's stored value decodes to exactly the SIDs in the file
        var codebook = Codebook.Load(_dir.File("codebook.safetensors"));
        var first = JsonlInput.ParsePredictionLine(File.ReadLines(_dir.File("predictions.jsonl")).First().Select(c => (byte)c).ToArray(), codebook.Layout, "p", 1);
        var value = (byte[])(await ReadUserAsync(result.Meta, first.UserId))!;
        var decoded = new ulong[SidSetCodec.MaxCount];
        Assert.Null(SidSetCodec.TryDecode(value, codebook.Layout, decoded, out int n));
        Assert.Equal(first.Sids, decoded[..n]);
    }

    [Fact]
    public async Task Scene_changes_are_validated_persisted_and_audited()
    {
        var scenes = new SceneStore(Db, Keys, Options);
        await scenes.SetAsync("home", new SceneSettings(0.8f, FilterMode.Enforce), "alice", "put");
        await scenes.SetAsync("home", new SceneSettings(0.7f, FilterMode.Shadow), "bob", "tune");
        var all = await scenes.GetAllAsync();
        Assert.Equal(0.7f, all["home"].Settings.Threshold);
        Assert.Equal(FilterMode.Shadow, all["home"].Settings.Mode);
        var audit = await scenes.GetAuditAsync(10);
        Assert.Equal(2, audit.Count);
        Assert.Equal(("bob", "tune", 0.8f, "enforce", 0.7f, "shadow"), (audit[0].Actor, audit[0].Action, audit[0].OldThreshold!.Value, audit[0].OldMode, audit[0].NewThreshold, audit[0].NewMode));
        Assert.Null(audit[1].OldThreshold);
        Assert.Throws<ArgumentException>(() => scenes.SetAsync("home", new SceneSettings(1.5f, FilterMode.Enforce), "x", "put").GetAwaiter().GetResult());
        Assert.Throws<ArgumentException>(() => scenes.SetAsync("bad scene!", new SceneSettings(0.5f, FilterMode.Enforce), "x", "put").GetAwaiter().GetResult());
        Assert.Equal(2, (await scenes.GetAuditAsync(10)).Count);
    }
}
