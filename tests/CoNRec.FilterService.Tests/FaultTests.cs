using System.Diagnostics;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Core;
using Xunit;

namespace CoNRec.FilterService.Tests;

public sealed class FaultTests
{
    [Fact]
    public async Task Killing_redis_under_traffic_fails_open_within_the_deadline_and_the_service_recovers_by_itself()
    {
        using var redis = new RedisServerProcess(persistent: true).Start();
        using var data = TempDir.WithSample(new SampleData.Spec(Users: 20, Items: 50));
        const string prefix = "fault";
        string generation;
        using (var mux = await RedisConnection.ConnectAsync(redis.Endpoint, allowAdmin: true))
        {
            generation = (await new GenerationLoader(mux, new RedisKeys(prefix), new StoreOptions { KeyPrefix = prefix })
                .LoadAsync(data.File("codebook.safetensors"), data.File("catalog.jsonl"), data.File("predictions.jsonl"), publish: true)).Meta.Id;
        }
        await using var host = await ServiceHost.StartAsync(redis.Endpoint, prefix);
        await host.WaitReadyAsync(generation);
        var request = new FilterCandidatesRequest { UserId = "u1" };
        request.Candidates.Add(new Candidate { ItemId = "i1" });
        request.Candidates.Add(new Candidate { ItemId = "i2", Sid = { 1, 2, 3 } });
        var deadline = TimeSpan.FromMilliseconds(250);

        async Task<(FilterCandidatesResponse Response, TimeSpan Elapsed)> CallAsync()
        {
            var sw = Stopwatch.StartNew();
            var r = await host.Client.FilterCandidatesAsync(request, deadline: DateTime.UtcNow.Add(deadline));
            return (r, sw.Elapsed);
        }

        Assert.All((await CallAsync()).Response.Decisions, d => Assert.Equal(Reason.Scored, d.Reason));

        redis.Stop();
        var outage = Stopwatch.StartNew();
        int calls = 0;
        while (outage.Elapsed < TimeSpan.FromSeconds(3))
        {
            var (response, elapsed) = await CallAsync(); // throws RpcException (failing the test) on any non-OK status
            Assert.True(elapsed < deadline, $"call took {elapsed.TotalMilliseconds} ms");
            Assert.Equal(generation, response.Generation); // the cached generation keeps being named
            Assert.All(response.Decisions, d => Assert.Equal((Reason.StoreUnavailable, false), (d.Reason, d.Rejected)));
            calls++;
        }
        Assert.True(calls > 20, $"only {calls} calls during the outage");
        Assert.False(host.State.Current.StoreReachable);

        redis.Start();
        var recovery = Stopwatch.StartNew();
        FilterCandidatesResponse? last = null;
        while (recovery.Elapsed < TimeSpan.FromSeconds(20))
        {
            last = (await CallAsync()).Response;
            if (last.Decisions.All(d => d.Reason == Reason.Scored)) break;
            await Task.Delay(50);
        }
        Assert.NotNull(last);
        Assert.All(last!.Decisions, d => Assert.Equal(Reason.Scored, d.Reason));
    }
}
