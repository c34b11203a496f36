using CoNRec.Core;
using CoNRec.Testing;
using CoNRec.V1;
using Xunit;

namespace CoNRec.FilterService.Tests;

public sealed class EmbeddedDefaultTests
{
    [Fact]
    public async Task Without_redis_the_service_hosts_garnet_loads_the_seed_and_serves()
    {
        using var data = TempDir.WithSample(new SampleData.Spec(Users: 8, Items: 30));
        int garnetPort = FreePort.Next();
        await using var host = await ServiceHost.StartAsync(redis: null, prefix: "conrec", "--embedded-redis-port", garnetPort.ToString(), "--seed", data.Path);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (host.State.Current.Generation is null && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.NotNull(host.State.Current.Generation);

        var first = File.ReadLines(data.File("predictions.jsonl")).First();
        var codebook = Codebook.Load(data.File("codebook.safetensors"));
        var user = JsonlInput.ParsePredictionLine(System.Text.Encoding.UTF8.GetBytes(first), codebook.Layout, "p", 1);
        var codes = new uint[3];
        codebook.Layout.Unpack(user.Sids[0], codes);
        var request = new FilterCandidatesRequest { UserId = user.UserId };
        request.Candidates.Add(new Candidate { ItemId = "x", Sid = { codes } });
        var response = await host.Client.FilterCandidatesAsync(request);
        Assert.Equal((Reason.Scored, true), (response.Decisions[0].Reason, response.Decisions[0].Rejected));

        // Same-day feedback on embedded Garnet: recorded, then seen on the next call, idempotently.
        var other = File.ReadLines(data.File("catalog.jsonl")).Select(l => JsonlInput.ParseCatalogLine(System.Text.Encoding.UTF8.GetBytes(l), codebook.Layout, "c", 1))
                        .First(e => !user.Sids.Contains(e.Sid));
        var before = (await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = user.UserId, Candidates = { new Candidate { ItemId = other.ItemId } } })).Decisions[0];
        Assert.True(before.Score < 1f);
        for (int k = 0; k < 2; k++)
            await host.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = user.UserId, Item = new Candidate { ItemId = other.ItemId }, Kind = FeedbackKind.Negative });
        var after = (await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = user.UserId, Candidates = { new Candidate { ItemId = other.ItemId } } })).Decisions[0];
        Assert.Equal((1f, CoNRec.V1.MatchSource.Feedback, true), (after.Score, after.MatchSource, after.Rejected));

        // the embedded server is a real RESP endpoint that the batch loader can reach too
        using var mux = StackExchange.Redis.ConnectionMultiplexer.Connect($"127.0.0.1:{garnetPort}");
        Assert.Equal(host.State.Current.Generation!.Id, (string?)mux.GetDatabase().StringGet("{conrec}:active"));
        Assert.Equal(1, mux.GetDatabase().SortedSetLength(new CoNRec.Store.RedisKeys("conrec").Feedback(user.UserId)));
    }
}
