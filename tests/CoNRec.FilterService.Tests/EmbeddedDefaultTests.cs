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

        // the embedded server is a real RESP endpoint that the batch loader can reach too
        using var mux = StackExchange.Redis.ConnectionMultiplexer.Connect($"127.0.0.1:{garnetPort}");
        Assert.Equal(host.State.Current.Generation!.Id, (string?)mux.GetDatabase().StringGet("{conrec}:active"));
    }
}
