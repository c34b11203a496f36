using System.Net.Http.Json;
using System.Text.Json;
using CoNRec.Core;
using CoNRec.FilterService.Tests;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using FeedbackKind = CoNRec.Offline.Data.FeedbackKind;
using Xunit;

namespace CoNRec.Batch.Tests;

/// <summary>
/// One profile, one set of candidates, three consumers of the rule: FilterCandidates (Kestrel + real Redis), the admin
/// tune endpoint, and offline evaluation. They must give bit-identical scores, or thresholds chosen offline would not
/// mean the same thing in serving.
/// </summary>
public sealed class ServedRuleParityTests
{
    [Fact]
    public async Task FilterCandidates_tune_and_eval_score_a_profile_identically()
    {
        using var redis = new RedisServerProcess().Start();
        using var data = TempDir.WithSample(new SampleData.Spec(Users: 5, Items: 120, Levels: 3, Codes: 32, Dimension: 16, Seed: 3));
        var codebook = Codebook.Load(data.File("codebook.safetensors"));
        var catalog = new Dictionary<string, ulong>(StringComparer.Ordinal);
        long line = 0;
        foreach (var l in File.ReadLines(data.File("catalog.jsonl")))
        {
            var e = JsonlInput.ParseCatalogLine(System.Text.Encoding.UTF8.GetBytes(l), codebook.Layout, "c", ++line);
            catalog[e.ItemId] = e.Sid;
        }
        var items = catalog.Keys.Order(StringComparer.Ordinal).ToArray();
        var user = JsonlInput.ParsePredictionLine(System.Text.Encoding.UTF8.GetBytes(File.ReadLines(data.File("predictions.jsonl")).First()), codebook.Layout, "p", 1);
        // The profile: the model's SIDs, recent negatives = items 0..4, recent positives = items 5..9 (newest first).
        ulong[] negatives = [.. items[..5].Select(i => catalog[i])], positives = [.. items[5..10].Select(i => catalog[i])];
        File.WriteAllText(data.File("profile.jsonl"), JsonSerializer.Serialize(new
        {
            user_id = user.UserId, sids = user.Sids.Select(Codes), recent_negatives = negatives.Select(Codes), recent_positives = positives.Select(Codes),
        }) + "\n");
        var rule = new ProfileRule(0.75f, 0.8f);

        const string prefix = "parity";
        using (var mux = await RedisConnection.ConnectAsync(redis.Endpoint, allowAdmin: true))
            await new GenerationLoader(mux, new RedisKeys(prefix), new StoreOptions { KeyPrefix = prefix })
                .LoadAsync(data.File("codebook.safetensors"), data.File("catalog.jsonl"), data.File("profile.jsonl"), publish: true);
        await using var host = await ServiceHost.StartAsync(redis.Endpoint, prefix);
        (await host.Admin.PutAsJsonAsync("/admin/v1/thresholds/p", new { threshold = 0.5, guard_weight = rule.GuardWeight, predicted_weight = rule.PredictedWeight })).EnsureSuccessStatusCode();
        await host.WaitReadyAsync();

        // Candidates: 60 catalog items, including exact matches of every profile part.
        var candidates = items[..60];
        var request = new FilterCandidatesRequest { UserId = user.UserId, Scene = "p" };
        foreach (var i in candidates) request.Candidates.Add(new Candidate { ItemId = i });
        FilterCandidatesResponse served;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do served = await host.Client.FilterCandidatesAsync(request);
        while ((served.GuardWeight != rule.GuardWeight || served.PredictedWeight != rule.PredictedWeight) && DateTime.UtcNow < deadline);
        Assert.Equal(rule.GuardWeight, served.GuardWeight);

        // Offline: one evaluation case whose future items are the candidates; the method returns the same profile.
        var t0 = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var interactions = new List<Interaction> { new(user.UserId, items[^1], t0, FeedbackKind.Negative) };
        for (int k = 0; k < candidates.Length; k++) interactions.Add(new(user.UserId, candidates[k], t0.AddDays(10).AddSeconds(k), FeedbackKind.Negative));
        var dataset = InteractionDataset.Create("parity", items.Select(i => new ItemFeatures(i, i, [], new Dictionary<string, double>())), interactions);
        var split = TemporalSplit.Create(dataset, new SplitOptions { TestDays = 5, ValidationDays = 0 });
        var c = Assert.Single(split.Cases);
        Assert.Equal(candidates, c.FutureNegatives);
        var evaluated = new Evaluator(codebook, catalog, new EvalOptions()).Evaluate(new EvalMethod("served", MethodKind.Profile)
        {
            Profile = _ => new CaseProfile(user.Sids, negatives, positives), Rule = rule,
        }, split.Cases, split);

        for (int k = 0; k < candidates.Length; k++)
        {
            var d = served.Decisions[k];
            Assert.Equal(Reason.Scored, d.Reason);
            Assert.Equal(BitConverter.SingleToInt32Bits(d.Score), BitConverter.SingleToInt32Bits(evaluated.Items[k].Score));
        }
        // The recent negatives themselves are among the candidates: exact matches, 1 less the guard, exactly.
        Assert.Equal(5, served.Decisions.Count(d => d.MatchSource == V1.MatchSource.RecentNegative && d.Score == 1f - (rule.GuardWeight * Math.Max(0f, d.PositiveScore))));

        // Tune: every threshold on its curve (but the floor) is one of those scores, and it scores them all.
        var samples = candidates.Select((i, k) => new { user_id = user.UserId, item_id = i, disliked = k % 2 == 0 }).ToArray();
        var tune = await host.Admin.PostAsJsonAsync("/admin/v1/thresholds/p/tune", new { samples, objective = new { max_false_reject_rate = 1.0 } });
        tune.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await tune.Content.ReadAsStringAsync());
        Assert.Equal(candidates.Length, doc.RootElement.GetProperty("scored").GetInt32());
        var scores = served.Decisions.Select(d => Math.Clamp(d.Score, -1f, 1f)).ToHashSet();
        foreach (var p in doc.RootElement.GetProperty("curve").EnumerateArray())
        {
            float t = p.GetProperty("threshold").GetSingle();
            if (t > -1f) Assert.Contains(t, scores);
        }

        uint[] Codes(ulong sid)
        {
            var codes = new uint[codebook.Levels];
            codebook.Layout.Unpack(sid, codes);
            return codes;
        }
    }
}
