using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Xunit;

namespace CoNRec.FilterService.Tests;

public sealed class GenerationSwitchTests
{
    [Fact]
    public async Task A_switch_is_served_warm_and_a_rollback_switches_back()
    {
        using var redis = new RedisServerProcess().Start();
        using var data = TempDir.WithSample(new SampleData.Spec(Users: 10, Items: 40));
        const string prefix = "switch";
        using var mux = await RedisConnection.ConnectAsync(redis.Endpoint, allowAdmin: true);
        var loader = new GenerationLoader(mux, new RedisKeys(prefix), new StoreOptions { KeyPrefix = prefix });
        Task<LoadResult> LoadAsync() => loader.LoadAsync(data.File("codebook.safetensors"), data.File("catalog.jsonl"), data.File("predictions.jsonl"), publish: true);

        var g1 = (await LoadAsync()).Meta;
        await using var host = await ServiceHost.StartAsync(redis.Endpoint, prefix);
        await host.WaitReadyAsync(g1.Id);
        var first = host.State.Current.Generation!;
        // warmed before it went live: every catalog item is cached, and their reconstructions too
        Assert.True(first.Catalog.TryGet("i39", out var sid) && sid != CatalogCache.Unknown);
        Assert.InRange(first.Reconstructions.Count, 1, 40); // distinct SIDs among 40 items (random codes may repeat)

        var g2 = (await LoadAsync()).Meta; // same codebook, new generation
        await host.WaitReadyAsync(g2.Id);
        var second = host.State.Current.Generation!;
        Assert.NotSame(first, second);
        Assert.Same(first.Reconstructions, second.Reconstructions); // same codebook: rows are reused
        Assert.True(second.Catalog.TryGet("i0", out _));

        var request = new FilterCandidatesRequest { UserId = "u0" };
        request.Candidates.Add(new Candidate { ItemId = "i0" });
        Assert.Equal(g2.Id, (await host.Client.FilterCandidatesAsync(request)).Generation);

        await new GenerationRegistry(mux.GetDatabase(), new RedisKeys(prefix), new StoreOptions { KeyPrefix = prefix }).PublishAsync(g1.Id); // rollback
        await host.WaitReadyAsync(g1.Id);
        var response = await host.Client.FilterCandidatesAsync(request);
        Assert.Equal(g1.Id, response.Generation);
        Assert.Equal(Reason.Scored, response.Decisions[0].Reason);
    }
}
