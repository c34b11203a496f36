using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CoNRec.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Xunit;

namespace CoNRec.FilterService.Tests;

public sealed class FilterCandidatesTests(LoadedServiceFixture f) : IClassFixture<LoadedServiceFixture>
{
    private FilterCandidatesRequest Request(string user, params Candidate[] candidates)
    {
        var r = new FilterCandidatesRequest { UserId = user };
        r.Candidates.AddRange(candidates);
        return r;
    }

    [Fact]
    public async Task Scores_equal_an_independent_max_cosine_and_decisions_follow_the_threshold()
    {
        var user = f.Predictions[0];
        var rng = new Random(3);
        var candidates = new List<Candidate>();
        for (int i = 0; i < 5; i++) candidates.Add(f.WithSid($"p{i}", user.Sids[i]));              // exact predicted SIDs: cosine 1
        for (int i = 0; i < 40; i++)
        {
            var codes = Enumerable.Range(0, f.Codebook.Levels).Select(_ => (uint)rng.Next(f.Codebook.CodesPerLevel)).ToArray();
            candidates.Add(f.WithSid($"r{i}", f.Codebook.Layout.Pack(codes)));
        }
        var response = await f.Host.Client.FilterCandidatesAsync(Request(user.UserId, [.. candidates]));

        Assert.Equal(f.Generation.Id, response.Generation);
        Assert.Equal(0.9f, response.Threshold);
        Assert.Equal(Mode.Enforce, response.Mode);
        Assert.Equal(candidates.Count, response.Decisions.Count);
        int rejected = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            var d = response.Decisions[i];
            ulong sid = f.Codebook.Layout.Pack(candidates[i].Sid.ToArray());
            var (score, _) = f.Reference(sid, user.Sids);
            Assert.Equal(candidates[i].ItemId, d.ItemId);
            Assert.Equal(Reason.Scored, d.Reason);
            Assert.Equal(score, d.Score, 5);
            Assert.InRange(d.MatchedIndex, 0, user.Sids.Length - 1);
            Assert.Equal(score, f.Reference(sid, [user.Sids[d.MatchedIndex]]).Score, 5); // the matched SID attains the max
            Assert.Equal(d.Score > 0.9f, d.WouldReject);
            Assert.Equal(d.WouldReject, d.Rejected);
            if (d.Rejected) rejected++;
        }
        Assert.True(rejected >= 5, "the five exact predicted SIDs must be rejected");
        Assert.True(rejected < candidates.Count, "random SIDs must not all be rejected");
    }

    [Fact]
    public async Task Candidates_without_sid_are_resolved_through_the_catalog_and_unknown_items_fail_open()
    {
        var user = f.Predictions[1];
        var items = f.Catalog.Keys.Take(25).ToList();
        var byCatalog = Request(user.UserId, [.. items.Select(i => new Candidate { ItemId = i }), new Candidate { ItemId = "no-such-item" }]);
        var explicitSid = Request(user.UserId, [.. items.Select(i => f.WithSid(i, f.Catalog[i]))]);
        var a = await f.Host.Client.FilterCandidatesAsync(byCatalog);
        var again = await f.Host.Client.FilterCandidatesAsync(byCatalog); // second time from the in-process cache
        var b = await f.Host.Client.FilterCandidatesAsync(explicitSid);
        for (int i = 0; i < items.Count; i++)
        {
            Assert.Equal(Reason.Scored, a.Decisions[i].Reason);
            Assert.Equal(b.Decisions[i].Score, a.Decisions[i].Score);
            Assert.Equal(b.Decisions[i].MatchedIndex, a.Decisions[i].MatchedIndex);
            Assert.Equal(a.Decisions[i], again.Decisions[i]);
        }
        foreach (var r in new[] { a, again })
        {
            var unknown = r.Decisions[^1];
            Assert.Equal((Reason.UnknownItem, false, false, -1), (unknown.Reason, unknown.Rejected, unknown.WouldReject, unknown.MatchedIndex));
        }
    }

    [Fact]
    public async Task A_user_without_predictions_gets_no_predictions_and_nothing_rejected()
    {
        var r = await f.Host.Client.FilterCandidatesAsync(Request("nobody", f.WithSid("x", f.Predictions[0].Sids[0]), new Candidate { ItemId = "i1" }));
        Assert.All(r.Decisions, d => Assert.Equal((Reason.NoPredictions, false), (d.Reason, d.Rejected)));
        var empty = await f.Host.Client.FilterCandidatesAsync(Request(f.Predictions[0].UserId));
        Assert.Empty(empty.Decisions);
    }

    public static TheoryData<string, string> InvalidRequests() => new()
    {
        { "empty-user", "user_id must not be empty" },
        { "long-user", "user_id is longer than 256 bytes" },
        { "too-many", "candidates has 2001 entries; the maximum is 2000" },
        { "wrong-levels", "candidates[1].sid has 2 codes; expected 3" },
        { "code-too-big", "candidates[0].sid[2] = 32 is out of range; codes must be < 32" },
        { "empty-item", "candidates[0].item_id must not be empty" },
        { "multibyte-item", "candidates[0].item_id is longer than 256 bytes" },
        { "bad-scene", "'scene' = 'no spaces!'" },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public async Task Invalid_input_is_INVALID_ARGUMENT_naming_the_field(string @case, string message)
    {
        var request = @case switch
        {
            "empty-user" => Request("", new Candidate { ItemId = "i1" }),
            "long-user" => Request(new string('u', 257)),
            "too-many" => Request("u1", [.. Enumerable.Range(0, 2001).Select(i => new Candidate { ItemId = $"i{i}" })]),
            "wrong-levels" => Request("u1", new Candidate { ItemId = "a", Sid = { 1, 2, 3 } }, new Candidate { ItemId = "b", Sid = { 1, 2 } }),
            "code-too-big" => Request("u1", new Candidate { ItemId = "a", Sid = { 1, 2, 32 } }),
            "empty-item" => Request("u1", new Candidate { ItemId = "" }),
            "multibyte-item" => Request("u1", new Candidate { ItemId = new string('€', 100) }), // 100 chars, 300 bytes
            "bad-scene" => new FilterCandidatesRequest { UserId = "u1", Scene = "no spaces!" },
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };
        var ex = await Assert.ThrowsAsync<RpcException>(() => f.Host.Client.FilterCandidatesAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(message, ex.Status.Detail);
    }

    [Fact]
    public async Task A_10000_candidate_request_is_answered_in_order_when_the_limit_allows_it()
    {
        await using var big = await ServiceHost.StartAsync(f.Redis.Endpoint, f.Prefix, "--max-candidates", "10000");
        await big.WaitReadyAsync(f.Generation.Id);
        var user = f.Predictions[2];
        var items = f.Catalog.Keys.ToList();
        var candidates = Enumerable.Range(0, 10_000).Select(i => i % 3 == 0 ? f.WithSid($"c{i}", user.Sids[i % user.Sids.Length]) : new Candidate { ItemId = items[i % items.Count] }).ToArray();
        var r = await big.Client.FilterCandidatesAsync(Request(user.UserId, candidates), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(10_000, r.Decisions.Count);
        for (int i = 0; i < candidates.Length; i++) Assert.Equal(candidates[i].ItemId, r.Decisions[i].ItemId);
        Assert.All(r.Decisions.Where((_, i) => i % 3 == 0), d => Assert.True(d.Rejected && d.Score > 0.999f));
        Assert.All(r.Decisions, d => Assert.Equal(Reason.Scored, d.Reason));
    }

    [Fact]
    public async Task Health_and_reflection_services_are_offered()
    {
        var health = await new Health.HealthClient(f.Host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        using var call = new ServerReflection.ServerReflectionClient(f.Host.Channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("conrec.v1.NegativeFilter", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task Metrics_health_and_readiness_are_served_on_the_admin_port_only()
    {
        using var anonymous = new HttpClient { BaseAddress = f.Host.Admin.BaseAddress };
        Assert.Equal("ok", await anonymous.GetStringAsync("/healthz"));
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        await f.Host.Client.FilterCandidatesAsync(Request(f.Predictions[0].UserId, f.WithSid("m", f.Predictions[0].Sids[0])));
        var metrics = await anonymous.GetStringAsync("/metrics");
        foreach (var name in new[] { "conrec_filter_request_duration_seconds_bucket", "conrec_filter_decisions_total", "conrec_filter_request_reject_ratio",
                                     "conrec_store_operation_duration_seconds", "conrec_store_circuit_state", "conrec_active_generation_info" })
            Assert.Contains(name, metrics);
        Assert.Contains("le=\"0.0001\"", metrics); // sub-millisecond buckets
        using var wrongPort = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{f.Host.GrpcPort}"), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        Assert.Equal(HttpStatusCode.NotFound, (await wrongPort.GetAsync("/admin/v1/thresholds")).StatusCode);
    }
}
