using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoNRec.V1;
using Microsoft.Extensions.Options;
using Xunit;

namespace CoNRec.FilterService.Tests;

public sealed class AdminTests(LoadedServiceFixture f) : IClassFixture<LoadedServiceFixture>
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Admin_requires_the_bearer_token()
    {
        using var anonymous = new HttpClient { BaseAddress = f.Host.Admin.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/v1/thresholds")).StatusCode);
        anonymous.DefaultRequestHeaders.Authorization = new("Bearer", "wrong-token-wrong-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PutAsync("/admin/v1/thresholds/x", Json("{\"threshold\":0.5}"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await f.Host.Admin.GetAsync("/admin/v1/thresholds")).StatusCode);
    }

    [Theory]
    [InlineData("{\"threshold\": 1.5}", "'threshold' = 1.5 must be a finite number in [-1, 1]")]
    [InlineData("{\"threshold\": -1.01}", "in [-1, 1]")]
    [InlineData("{\"mode\": \"enforce\"}", "'threshold' is required")]
    [InlineData("{\"threshold\": \"0.5\"}", "'threshold' is required and must be a number")]
    [InlineData("{\"threshold\": 0.5, \"mode\": \"block\"}", "'mode' must be one of")]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    public async Task Bad_threshold_updates_are_rejected_with_the_field_named(string body, string message)
    {
        var response = await f.Host.Admin.PutAsync("/admin/v1/thresholds/validation", Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Scene_modes_change_decisions_and_are_audited()
    {
        var user = f.Predictions[3];
        var request = new FilterCandidatesRequest { UserId = user.UserId, Scene = "feed" };
        request.Candidates.Add(f.WithSid("hit", user.Sids[0]));

        Assert.Equal(HttpStatusCode.OK, (await f.Host.Admin.PutAsync("/admin/v1/thresholds/feed", Json("{\"threshold\": 0.5, \"mode\": \"shadow\"}"))).StatusCode);
        var shadow = await f.Host.Client.FilterCandidatesAsync(request);
        Assert.Equal((Mode.Shadow, 0.5f, true, false), (shadow.Mode, shadow.Threshold, shadow.Decisions[0].WouldReject, shadow.Decisions[0].Rejected));

        await f.Host.Admin.PutAsync("/admin/v1/thresholds/feed", Json("{\"threshold\": 0.5, \"mode\": \"off\"}"));
        var off = await f.Host.Client.FilterCandidatesAsync(request);
        Assert.Equal((Mode.Off, Reason.FilterOff, false), (off.Mode, off.Decisions[0].Reason, off.Decisions[0].Rejected));

        await f.Host.Admin.PutAsync("/admin/v1/thresholds/feed", Json("{\"threshold\": 0.5, \"mode\": \"enforce\"}"));
        var enforce = await f.Host.Client.FilterCandidatesAsync(request);
        Assert.True(enforce.Decisions[0].Rejected);

        var all = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/thresholds");
        Assert.Equal("enforce", all!["scenes"]!["feed"]!["mode"]!.GetValue<string>());
        Assert.Equal(0.9, all["scenes"]!["default"]!["threshold"]!.GetValue<double>(), 5);
        var audit = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/audit?count=3");
        var entries = audit!["entries"]!.AsArray();
        Assert.Equal(["enforce", "off", "shadow"], entries.Select(e => e!["new_mode"]!.GetValue<string>()).Where(m => m is not null).Take(3));
    }

    [Fact]
    public async Task Tune_computes_the_curve_from_labelled_samples_and_applies_the_recommendation()
    {
        // Disliked samples are the users' own predicted SIDs (score 1); liked ones are catalog items (mostly lower).
        var samples = new JsonArray();
        foreach (var p in f.Predictions.Take(10))
        {
            samples.Add(new JsonObject { ["user_id"] = p.UserId, ["item_id"] = "d-" + p.UserId, ["sid"] = SidJson(p.Sids[0]), ["disliked"] = true });
            foreach (var item in f.Catalog.Keys.Where(i => f.Reference(f.Catalog[i], p.Sids).Score < 0.99).Take(4))
                samples.Add(new JsonObject { ["user_id"] = p.UserId, ["item_id"] = item, ["disliked"] = false });
        }
        samples.Add(new JsonObject { ["user_id"] = "nobody", ["item_id"] = "i1", ["disliked"] = true });
        var body = new JsonObject { ["samples"] = samples, ["objective"] = new JsonObject { ["max_false_reject_rate"] = 0.05 }, ["apply"] = true };
        var response = await f.Host.Admin.PostAsync("/admin/v1/thresholds/tuned/tune", Json(body.ToJsonString()));
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, json?.ToJsonString());
        Assert.Equal(51, json!["samples"]!.GetValue<int>());
        Assert.Equal(50, json["scored"]!.GetValue<int>());
        Assert.Equal(1, json["skipped"]!["no_predictions"]!.GetValue<int>());
        var rec = json["recommended"]!;
        Assert.True(rec["liked_reject_rate"]!.GetValue<double>() <= 0.05);
        Assert.Equal(1.0, rec["disliked_reject_rate"]!.GetValue<double>()); // score-1 dislikes are separable
        var curve = json["curve"]!.AsArray();
        Assert.True(curve.Count >= 2);
        // curve is ordered from strict (high threshold) to lenient: rejection rates never decrease
        var rates = curve.Select(p => p!["disliked_reject_rate"]!.GetValue<double>()).ToList();
        Assert.Equal(rates.OrderBy(x => x), rates);
        Assert.True(json["applied"]!.GetValue<bool>());
        var all = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/thresholds");
        Assert.Equal(rec["threshold"]!.GetValue<double>(), all!["scenes"]!["tuned"]!["threshold"]!.GetValue<double>(), 5);
    }

    [Theory]
    [InlineData("{\"samples\": [], \"objective\": {\"min_precision\": 0.5}}", "'samples' has 0 entries")]
    [InlineData("{\"samples\": [{\"user_id\": \"u\", \"item_id\": \"i\"}], \"objective\": {\"min_precision\": 0.5}}", "'samples[0].disliked' is required")]
    [InlineData("{\"samples\": [{\"user_id\": \"\", \"item_id\": \"i\", \"disliked\": true}], \"objective\": {\"min_precision\": 0.5}}", "'samples[0].user_id' is required")]
    [InlineData("{\"samples\": [{\"user_id\": \"u\", \"item_id\": \"i\", \"sid\": [1,2], \"disliked\": true}], \"objective\": {\"min_precision\": 0.5}}", "'samples[0].sid' has 2 codes")]
    [InlineData("{\"samples\": [{\"user_id\": \"u\", \"item_id\": \"i\", \"disliked\": true}], \"objective\": {\"min_precision\": 2}}", "'objective.min_precision' must be a number in [0, 1]")]
    [InlineData("{\"samples\": [{\"user_id\": \"u\", \"item_id\": \"i\", \"disliked\": true}], \"objective\": {}}", "exactly one of")]
    [InlineData("{\"samples\": [{\"user_id\": \"u\", \"item_id\": \"i\", \"disliked\": true}]}", "'objective' is required")]
    public async Task Bad_tune_requests_name_the_field(string body, string message)
    {
        var response = await f.Host.Admin.PostAsync("/admin/v1/thresholds/x/tune", Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Threshold_changes_reach_another_replica_within_one_second()
    {
        await using var other = await ServiceHost.StartAsync(f.Redis.Endpoint, f.Prefix, "--Filter:PollInterval", "00:01:00"); // pub/sub only
        await other.WaitReadyAsync(f.Generation.Id);
        var request = new FilterCandidatesRequest { UserId = f.Predictions[0].UserId, Scene = "propagation" };
        for (int round = 0; round < 3; round++)
        {
            float threshold = 0.31f + (round * 0.1f);
            var started = DateTime.UtcNow;
            Assert.Equal(HttpStatusCode.OK, (await f.Host.Admin.PutAsync("/admin/v1/thresholds/propagation", Json($"{{\"threshold\": {threshold}}}"))).StatusCode);
            float seen = float.NaN;
            while (DateTime.UtcNow - started < TimeSpan.FromSeconds(3))
            {
                seen = (await other.Client.FilterCandidatesAsync(request)).Threshold;
                if (seen == threshold) break;
                await Task.Delay(10);
            }
            Assert.Equal(threshold, seen);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(1), $"propagation took {(DateTime.UtcNow - started).TotalMilliseconds} ms");
        }
    }

    [Fact]
    public void Admin_on_a_non_loopback_address_without_a_token_is_refused()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => FilterServiceHost.Build(["--admin-bind", "0.0.0.0", "--redis", f.Redis.Endpoint]));
        Assert.Contains("not loopback and no admin token", ex.Message);
    }

    private static JsonArray SidJson(ulong sid)
    {
        var codes = new uint[3];
        new Core.SidLayout(3, 32).Unpack(sid, codes);
        return new JsonArray([.. codes.Select(c => (JsonNode)c)]);
    }
}
