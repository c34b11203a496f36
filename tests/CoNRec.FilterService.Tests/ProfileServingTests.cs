using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Core;
using StackExchange.Redis;
using Xunit;
using MatchSource = CoNRec.V1.MatchSource;
using FeedbackKind = CoNRec.V1.FeedbackKind;

namespace CoNRec.FilterService.Tests;

/// <summary>
/// The negative profile served end to end: predictions with recent negatives and positives loaded into real Redis,
/// same-day feedback through RecordFeedback on one replica, FilterCandidates on another, all through Kestrel.
/// </summary>
public sealed class ProfileServingTests : IAsyncLifetime
{
    private readonly RedisServerProcess _redis = new RedisServerProcess().Start();
    private readonly TempDir _data = TempDir.WithSample(new SampleData.Spec(Users: 12, Items: 150, Levels: 3, Codes: 32, Dimension: 16));
    private readonly string _prefix = "prof" + Guid.NewGuid().ToString("N")[..6];
    private Codebook _codebook = null!;
    private readonly Dictionary<string, ulong> _catalog = [];
    private readonly Dictionary<string, PredictionEntry> _users = [];
    private ConnectionMultiplexer _mux = null!;
    private ServiceHost _a = null!, _b = null!;
    private string _generation = "";

    public async Task InitializeAsync()
    {
        _codebook = Codebook.Load(_data.File("codebook.safetensors"));
        long line = 0;
        foreach (var l in File.ReadLines(_data.File("catalog.jsonl")))
        {
            var e = JsonlInput.ParseCatalogLine(System.Text.Encoding.UTF8.GetBytes(l), _codebook.Layout, "c", ++line);
            _catalog[e.ItemId] = e.Sid;
        }
        // Give every user a profile: 3 recent negatives and 2 recent positives drawn from the catalog.
        var rng = new Random(17);
        var items = _catalog.Keys.Order(StringComparer.Ordinal).ToArray();
        var lines = new List<string>();
        foreach (var l in File.ReadLines(_data.File("predictions.jsonl")))
        {
            var p = JsonlInput.ParsePredictionLine(System.Text.Encoding.UTF8.GetBytes(l), _codebook.Layout, "p", ++line);
            var entry = p with
            {
                RecentNegatives = [.. Enumerable.Range(0, 3).Select(_ => _catalog[items[rng.Next(items.Length)]]).Distinct()],
                RecentPositives = [.. Enumerable.Range(0, 2).Select(_ => _catalog[items[rng.Next(items.Length)]]).Distinct()],
            };
            _users[p.UserId] = entry;
            lines.Add(JsonSerializer.Serialize(new
            {
                user_id = p.UserId, sids = p.Sids.Select(Codes), recent_negatives = entry.RecentNegatives.Select(Codes), recent_positives = entry.RecentPositives.Select(Codes),
            }));
        }
        File.WriteAllLines(_data.File("profiles.jsonl"), lines);
        _mux = await RedisConnection.ConnectAsync(_redis.Endpoint, allowAdmin: true);
        _generation = (await Loader().LoadAsync(_data.File("codebook.safetensors"), _data.File("catalog.jsonl"), _data.File("profiles.jsonl"), publish: true)).Meta.Id;
        _a = await ServiceHost.StartAsync(_redis.Endpoint, _prefix, "--Store:FeedbackMaxEntries", "4");
        _b = await ServiceHost.StartAsync(_redis.Endpoint, _prefix, "--Store:FeedbackMaxEntries", "4");
        await _a.WaitReadyAsync(_generation);
        await _b.WaitReadyAsync(_generation);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        _mux.Dispose();
        _redis.Dispose();
        _data.Dispose();
    }

    private GenerationLoader Loader() => new(_mux, new RedisKeys(_prefix), new StoreOptions { KeyPrefix = _prefix });

    private uint[] Codes(ulong sid)
    {
        var c = new uint[_codebook.Levels];
        _codebook.Layout.Unpack(sid, c);
        return c;
    }

    private string ItemOf(ulong sid) => _catalog.First(kv => kv.Value == sid).Key;

    private async Task<Decision> ScoreAsync(ServiceHost host, string user, string item) =>
        (await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = user, Candidates = { new Candidate { ItemId = item } } })).Decisions[0];

    [Fact]
    public async Task Every_part_of_the_profile_is_scored_by_the_one_rule_and_the_guard_is_tunable_per_scene()
    {
        var user = _users["u1"];
        float guard = new FilterOptions().DefaultGuardWeight;
        var request = new FilterCandidatesRequest { UserId = "u1" };
        var items = _catalog.Keys.Order(StringComparer.Ordinal).Take(60).ToList();
        items.Add(ItemOf(user.RecentNegatives[0]));
        items.Add(ItemOf(user.RecentPositives[0]));
        foreach (var i in items) request.Candidates.Add(new Candidate { ItemId = i });
        var response = await _b.Client.FilterCandidatesAsync(request);
        Assert.Equal(guard, response.GuardWeight);
        for (int i = 0; i < items.Count; i++)
        {
            var d = response.Decisions[i];
            var (score, index, source, positive) = LoadedServiceFixture.ProfileReference(_codebook, _catalog[items[i]], user.Sids, user.RecentNegatives, user.RecentPositives, guard);
            Assert.Equal(score, d.Score, 1e-5);
            Assert.Equal((source, index), ((int)d.MatchSource, d.MatchedIndex));
            Assert.Equal(positive, d.PositiveScore, 1e-5);
        }
        var recentNegative = response.Decisions[^2];
        Assert.Equal(MatchSource.RecentNegative, recentNegative.MatchSource);

        // The scene's guard weight changes the score through the admin API, on both replicas (pub/sub).
        var put = await _a.Admin.PutAsJsonAsync("/admin/v1/thresholds/default", new { threshold = 0.9, guard_weight = 1.5 });
        put.EnsureSuccessStatusCode();
        var liked = response.Decisions[^1];
        var sw = Stopwatch.StartNew();
        Decision again;
        do again = await ScoreAsync(_b, "u1", items[^1]);
        while (Math.Abs(again.Score - (liked.Score + (liked.PositiveScore * (guard - 1.5f)))) > 1e-5 && sw.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(liked.Score + (liked.PositiveScore * (guard - 1.5f)), again.Score, 1e-5);
        var bad = await _a.Admin.PutAsJsonAsync("/admin/v1/thresholds/default", new { threshold = 0.9, guard_weight = 3 });
        Assert.Equal(400, (int)bad.StatusCode);
        Assert.Contains("'guard_weight' = 3 must be a finite number in [0, 2]", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Tune_scores_samples_exactly_as_FilterCandidates_does()
    {
        var user = _users["u2"];
        var items = _catalog.Keys.Order(StringComparer.Ordinal).Skip(20).Take(40).Append(ItemOf(user.Sids[0])).Append(ItemOf(user.RecentPositives[0])).ToList();
        var request = new FilterCandidatesRequest { UserId = "u2", Scene = "tuned" };
        foreach (var i in items) request.Candidates.Add(new Candidate { ItemId = i });
        var served = (await _a.Client.FilterCandidatesAsync(request)).Decisions.Select(d => d.Score).ToHashSet();
        var samples = items.Select((item, k) => new { user_id = "u2", item_id = item, disliked = k % 3 == 0 }).ToArray();
        var response = await _a.Admin.PostAsJsonAsync("/admin/v1/thresholds/tuned/tune", new { samples, objective = new { max_false_reject_rate = 0.5 } });
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(new FilterOptions().DefaultGuardWeight, doc.RootElement.GetProperty("guard_weight").GetSingle());
        // Every threshold on the curve but the floor (-1) is one of the served scores: the curve is the served rule's.
        foreach (var p in doc.RootElement.GetProperty("curve").EnumerateArray())
        {
            float t = p.GetProperty("threshold").GetSingle();
            if (t > -1f) Assert.Contains(t, served);
        }
    }

    [Fact]
    public async Task Feedback_on_one_replica_is_seen_on_the_next_call_on_another_idempotent_bounded_and_superseded()
    {
        var user = _users["u3"];
        var negatives = user.Sids.Concat(user.RecentNegatives).ToHashSet();
        var fresh = _catalog.Where(kv => !negatives.Contains(kv.Value) && !user.RecentPositives.Contains(kv.Value))
                            .Select(kv => kv.Key).Order(StringComparer.Ordinal).Take(6).ToArray();
        var before = await ScoreAsync(_b, "u3", fresh[0]);
        Assert.True(before.Score < 1f);

        var recorded = await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[0] }, Kind = FeedbackKind.Negative });
        Assert.Equal(_generation, recorded.Generation);
        Assert.Equal(Codes(_catalog[fresh[0]]), recorded.Sid);
        Assert.False(recorded.Superseded);
        var after = await ScoreAsync(_b, "u3", fresh[0]); // the very next call, on the other replica
        Assert.Equal((1f, MatchSource.Feedback, 0), (after.Score + (guard() * Math.Max(0, after.PositiveScore)), after.MatchSource, after.MatchedIndex));

        var key = new RedisKeys(_prefix).Feedback("u3");
        await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[0] }, Kind = FeedbackKind.Negative });
        Assert.Equal(1, await _mux.GetDatabase().SortedSetLengthAsync(key)); // idempotent per (user, item, kind)

        // A like given today guards the item: by sid this time.
        var liked = _catalog[fresh[1]];
        await _b.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[1], Sid = { Codes(liked) } }, Kind = FeedbackKind.Positive });
        var guarded = await ScoreAsync(_a, "u3", fresh[1]);
        Assert.Equal(1f, guarded.PositiveScore);

        long t = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (int k = 2; k < 6; k++)
            await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[k] }, Kind = FeedbackKind.Negative, TimestampMs = t + k });
        Assert.Equal(4, await _mux.GetDatabase().SortedSetLengthAsync(key)); // bounded: the most recent 4
        Assert.NotEqual(MatchSource.Feedback, (await ScoreAsync(_b, "u3", fresh[0])).MatchSource); // the oldest fell out
        Assert.Equal(MatchSource.Feedback, (await ScoreAsync(_b, "u3", fresh[5])).MatchSource);

        // A generation whose data include this feedback (as_of after it) supersedes the overlay.
        var newer = (await Loader().LoadAsync(_data.File("codebook.safetensors"), _data.File("catalog.jsonl"), _data.File("profiles.jsonl"), publish: true,
            asOf: DateTimeOffset.UtcNow.AddMinutes(1))).Meta;
        await _b.WaitReadyAsync(newer.Id);
        var superseded = await ScoreAsync(_b, "u3", fresh[5]);
        Assert.Equal(newer.Id, (await _b.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u3" })).Generation);
        Assert.NotEqual(MatchSource.Feedback, superseded.MatchSource);
        Assert.True(superseded.Score < 1f);
        var late = await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[5] }, Kind = FeedbackKind.Negative, TimestampMs = t });
        await _a.WaitReadyAsync(newer.Id);
        Assert.True((await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "u3", Item = new Candidate { ItemId = fresh[5] }, Kind = FeedbackKind.Negative, TimestampMs = t })).Superseded);
        _ = late;

        static float guard() => new FilterOptions().DefaultGuardWeight;
    }

    [Fact]
    public async Task A_user_without_predictions_is_scored_against_feedback_alone()
    {
        var item = _catalog.Keys.Order(StringComparer.Ordinal).First();
        Assert.Equal(Reason.NoPredictions, (await ScoreAsync(_a, "brand-new-user", item)).Reason);
        await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest { UserId = "brand-new-user", Item = new Candidate { ItemId = item }, Kind = FeedbackKind.Negative });
        var d = await ScoreAsync(_b, "brand-new-user", item);
        Assert.Equal((Reason.Scored, MatchSource.Feedback, 1f, true), (d.Reason, d.MatchSource, d.Score, d.Rejected));
    }

    [Theory]
    [InlineData("", "i1", 1, 0L, "user_id must not be empty")]
    [InlineData("u1", "", 1, 0L, "item.item_id must not be empty")]
    [InlineData("u1", "i1", 0, 0L, "kind = 0 must be NEGATIVE (1) or POSITIVE (2)")]
    [InlineData("u1", "i1", 7, 0L, "kind = 7 must be NEGATIVE (1) or POSITIVE (2)")]
    [InlineData("u1", "i1", 1, -5L, "timestamp_ms = -5 must be >= 0")]
    [InlineData("u1", "i1", 1, 99_999_999_999_999L, "more than 5 minutes in the future")]
    public async Task Invalid_feedback_names_the_field(string user, string item, int kind, long ts, string expected)
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await _a.Client.RecordFeedbackAsync(new RecordFeedbackRequest
            { UserId = user, Item = new Candidate { ItemId = item }, Kind = (FeedbackKind)kind, TimestampMs = ts }));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(expected, e.Status.Detail);
    }

    [Fact]
    public async Task Feedback_items_are_validated_like_candidates_and_unknown_ones_are_not_found()
    {
        async Task<RpcException> Fails(RecordFeedbackRequest r) => await Assert.ThrowsAsync<RpcException>(async () => await _a.Client.RecordFeedbackAsync(r));
        var noItem = await Fails(new RecordFeedbackRequest { UserId = "u1", Kind = FeedbackKind.Negative });
        Assert.Contains("item is required", noItem.Status.Detail);
        var shortSid = await Fails(new RecordFeedbackRequest { UserId = "u1", Item = new Candidate { ItemId = "x", Sid = { 1, 2 } }, Kind = FeedbackKind.Negative });
        Assert.Contains("item.sid has 2 codes; expected 3", shortSid.Status.Detail);
        var bigCode = await Fails(new RecordFeedbackRequest { UserId = "u1", Item = new Candidate { ItemId = "x", Sid = { 1, 2, 99 } }, Kind = FeedbackKind.Negative });
        Assert.Contains("item.sid[2] = 99 is out of range; codes must be < 32", bigCode.Status.Detail);
        var unknown = await Fails(new RecordFeedbackRequest { UserId = "u1", Item = new Candidate { ItemId = new string('z', 200) }, Kind = FeedbackKind.Negative });
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.True(unknown.Status.Detail.Length < 400, "the message echoes a bounded excerpt of the id");
    }

    [Fact]
    public async Task With_redis_down_feedback_is_refused_as_unavailable_and_filtering_still_fails_open()
    {
        var item = _catalog.Keys.Order(StringComparer.Ordinal).Skip(3).First();
        _redis.Stop();
        try
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await _a.Client.RecordFeedbackAsync(
                new RecordFeedbackRequest { UserId = "u4", Item = new Candidate { ItemId = item, Sid = { 1, 2, 3 } }, Kind = FeedbackKind.Negative },
                deadline: DateTime.UtcNow.AddSeconds(2)));
            Assert.Equal(StatusCode.Unavailable, e.StatusCode);
            Assert.Contains("nothing was recorded; retry", e.Status.Detail);
            var d = (await _a.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u4", Candidates = { new Candidate { ItemId = item } } },
                deadline: DateTime.UtcNow.AddMilliseconds(250))).Decisions[0];
            Assert.Equal((Reason.StoreUnavailable, false), (d.Reason, d.Rejected));
        }
        finally { _redis.Start(); }
    }
}
