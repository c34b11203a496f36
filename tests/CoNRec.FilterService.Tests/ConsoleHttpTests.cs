using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using CoNRec.Store;
using CoNRec.V1;
using Microsoft.Extensions.Options;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>The console's HTTP contract against the real service: static files, security headers, and the endpoints it added.</summary>
public sealed class ConsoleHttpTests(ConsoleFixture f) : IClassFixture<ConsoleFixture>
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private HttpClient Anonymous() => new() { BaseAddress = new Uri(f.AdminUrl) };

    private static async Task<string> ErrorOf(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>();

    [Theory]
    [InlineData("GET", "/admin/v1/thresholds")]
    [InlineData("GET", "/admin/v1/audit?count=5")]
    [InlineData("GET", "/admin/v1/generations")]
    [InlineData("GET", "/admin/v1/samples")]
    [InlineData("GET", "/admin/v1/health")]
    [InlineData("POST", "/admin/v1/generations/anything/publish")]
    [InlineData("POST", "/admin/v1/thresholds/x/tune")]
    [InlineData("PUT", "/admin/v1/thresholds/x")]
    public async Task Every_data_endpoint_answers_401_without_the_token(string method, string path)
    {
        using var anonymous = Anonymous();
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET") request.Content = Json("{\"threshold\": 0.5, \"sample_file\": \"labelled.jsonl\", \"objective\": {\"min_precision\": 0.5}}");
        var response = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.DoesNotContain("scenes", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_page_loads_without_a_token_with_CSP_nosniff_content_types_and_an_ETag()
    {
        using var anonymous = Anonymous();
        var page = await anonymous.GetAsync("/admin/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType!.ToString());
        string csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("default-src 'none'", csp);
        Assert.Contains("script-src 'self'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("<script type=\"module\" src=\"/admin/app.js\">", await page.Content.ReadAsStringAsync());

        foreach (var (file, type) in new[] { ("app.js", "text/javascript; charset=utf-8"), ("api.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8") })
        {
            var asset = await anonymous.GetAsync($"/admin/{file}");
            Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
            Assert.Equal(type, asset.Content.Headers.ContentType!.ToString());
            Assert.Equal("nosniff", asset.Headers.GetValues("X-Content-Type-Options").Single());
            var etag = asset.Headers.ETag!;
            Assert.False(etag.IsWeak);

            var again = new HttpRequestMessage(HttpMethod.Get, $"/admin/{file}");
            again.Headers.IfNoneMatch.Add(etag);
            var notModified = await anonymous.SendAsync(again);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());
            Assert.Equal(etag, notModified.Headers.ETag);

            var stale = new HttpRequestMessage(HttpMethod.Get, $"/admin/{file}");
            stale.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue("\"0000\""));
            Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(stale)).StatusCode);
        }
        // Every embedded file differs, and so does its tag.
        var tags = await Task.WhenAll(AdminConsole.Assets.Keys.Select(async k => (await anonymous.GetAsync($"/admin/{k}")).Headers.ETag!.Tag));
        Assert.Equal(tags.Length, tags.Distinct().Count());
        Assert.DoesNotContain(AdminConsole.Assets.Keys, k => k.EndsWith(".mjs", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/admin/nope.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/admin/..%2F..%2Fetc%2Fpasswd")).StatusCode);
        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(f.AdminUrl) };
        var redirect = await noRedirect.GetAsync("/admin");
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Equal("/admin/", redirect.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task The_console_is_never_served_on_the_gRPC_port()
    {
        // The gRPC port speaks HTTP/2 only (prior knowledge, h2c on loopback).
        using var h2 = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{f.Host.GrpcPort}"), DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        h2.DefaultRequestHeaders.Authorization = new("Bearer", ServiceHost.Token);
        foreach (var path in new[] { "/admin/", "/admin", "/admin/app.js", "/admin/index.html", "/admin/v1/health", "/admin/v1/samples" })
            Assert.Equal(HttpStatusCode.NotFound, (await h2.GetAsync(path)).StatusCode);
    }

    [Fact]
    public async Task Samples_are_listed_by_name_and_tune_reads_them_like_inline_samples()
    {
        var list = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/samples");
        Assert.True(list!["configured"]!.GetValue<bool>());
        var names = list["files"]!.AsArray().Select(x => x!["name"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["labelled.csv", "labelled.jsonl"], names); // notes.txt is not a sample file

        var inline = new JsonObject { ["samples"] = new JsonArray([.. f.TuneSamples()]), ["objective"] = new JsonObject { ["max_false_reject_rate"] = 0.05 } };
        var expected = await TuneAsync("/admin/v1/thresholds/files/tune", inline.ToJsonString());
        foreach (var file in new[] { "labelled.jsonl", "labelled.csv" })
        {
            var fromFile = await TuneAsync("/admin/v1/thresholds/files/tune", $"{{\"sample_file\": \"{file}\", \"objective\": {{\"max_false_reject_rate\": 0.05}}}}");
            Assert.Equal(file, fromFile["sample_file"]!.GetValue<string>());
            Assert.Equal(82, fromFile["samples"]!.GetValue<int>());
            Assert.Equal(80, fromFile["scored"]!.GetValue<int>());
            Assert.Equal(1, fromFile["skipped"]!["no_predictions"]!.GetValue<int>());
            Assert.Equal(1, fromFile["skipped"]!["unknown_item"]!.GetValue<int>());
            Assert.Equal(expected["curve"]!.ToJsonString(), fromFile["curve"]!.ToJsonString());
            Assert.Equal(expected["recommended"]!.ToJsonString(), fromFile["recommended"]!.ToJsonString());
        }
    }

    private async Task<JsonObject> TuneAsync(string path, string body)
    {
        var response = await f.Host.Admin.PostAsync(path, Json(body));
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, json?.ToJsonString());
        return json!;
    }

    [Theory]
    [InlineData("\"../../etc/passwd\"", 400, "'sample_file' = '../../etc/passwd' must be a file name")]
    [InlineData("\"/etc/passwd\"", 400, "not a path")]
    [InlineData("\"..\\\\labelled.jsonl\"", 400, "not a path")]
    [InlineData("\"notes.txt\"", 400, "ending .jsonl or .csv")]
    [InlineData("\"missing.jsonl\"", 404, "'sample_file' = 'missing.jsonl' is not in the sample directory")]
    [InlineData("\"\"", 400, "'sample_file' must be a non-empty string")]
    [InlineData("42", 400, "'sample_file' must be a non-empty string")]
    public async Task Bad_sample_files_are_refused_with_the_field_named(string sampleFile, int status, string message)
    {
        var response = await f.Host.Admin.PostAsync("/admin/v1/thresholds/x/tune", Json($"{{\"sample_file\": {sampleFile}, \"objective\": {{\"min_precision\": 0.5}}}}"));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, await ErrorOf(response));
    }

    [Fact]
    public async Task Links_out_of_the_sample_directory_and_malformed_files_are_refused()
    {
        File.CreateSymbolicLink(f.Samples.File("escape.jsonl"), "/etc/passwd");
        File.WriteAllText(f.Samples.File("broken.jsonl"), "{\"user_id\":\"u0\",\"item_id\":\"i1\",\"disliked\":true}\n\n{\"user_id\":\"u0\",\"item_id\":\"i2\"}\n");
        File.WriteAllText(f.Samples.File("broken.csv"), "user_id,item_id,disliked\nu0,i1,true\nu0,i2,maybe\n");
        File.WriteAllText(f.Samples.File("headless.csv"), "user,item_id,label\nu0,i1,true\n");
        try
        {
            var names = (await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/samples"))!["files"]!.AsArray().Select(x => x!["name"]!.GetValue<string>()).ToList();
            Assert.DoesNotContain("escape.jsonl", names);
            Assert.Contains("broken.jsonl", names);
            foreach (var (file, status, message) in new[]
            {
                ("escape.jsonl", 404, "is not in the sample directory"),
                ("broken.jsonl", 400, "'sample_file' = 'broken.jsonl' line 3: 'disliked' is required and must be true or false"),
                ("broken.csv", 400, "'sample_file' = 'broken.csv' line 3: 'disliked' = 'maybe' must be true, false, 1 or 0"),
                ("headless.csv", 400, "line 1: the header must name user_id, item_id and disliked (optionally sid); missing user_id, disliked"),
            })
            {
                var response = await f.Host.Admin.PostAsync("/admin/v1/thresholds/x/tune", Json($"{{\"sample_file\": \"{file}\", \"objective\": {{\"min_precision\": 0.5}}}}"));
                Assert.Equal(status, (int)response.StatusCode);
                Assert.Contains(message, await ErrorOf(response));
            }
            var both = await f.Host.Admin.PostAsync("/admin/v1/thresholds/x/tune", Json("{\"sample_file\": \"labelled.csv\", \"samples\": [], \"objective\": {\"min_precision\": 0.5}}"));
            Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
            Assert.Contains("either 'samples' or 'sample_file'", await ErrorOf(both));
        }
        finally
        {
            foreach (var file in new[] { "escape.jsonl", "broken.jsonl", "broken.csv", "headless.csv" }) File.Delete(f.Samples.File(file));
        }
    }

    [Theory]
    [InlineData("bad%20id", 400, "'generation' = 'bad id' must be 1-128 characters")]
    [InlineData("semi%3Bcolon", 400, "must be 1-128 characters")]
    [InlineData("no-such-generation", 404, "generation 'no-such-generation' does not exist")]
    public async Task Bad_generation_ids_are_refused(string id, int status, string message)
    {
        var response = await f.Host.Admin.PostAsync($"/admin/v1/generations/{id}/publish", null);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, await ErrorOf(response));
    }

    [Fact]
    public async Task Publishing_the_active_generation_is_a_conflict_and_generations_show_the_grace_expiry()
    {
        var list = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/generations");
        string active = list!["active"]!.GetValue<string>();
        var response = await f.Host.Admin.PostAsync($"/admin/v1/generations/{active}/publish", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("is already active", await ErrorOf(response));
        var generations = list["generations"]!.AsArray();
        Assert.Equal(2, generations.Count);
        foreach (var g in generations)
        {
            bool isActive = g!["id"]!.GetValue<string>() == active;
            Assert.Equal(isActive ? "published" : "retired", g["status"]!.GetValue<string>());
            Assert.Equal(f.First.CodebookHash, g["codebook_hash"]!.GetValue<string>());
            Assert.Equal(30, g["users"]!.GetValue<long>());
            // A retired generation expires at the end of its grace period (24 h by default); the active one never.
            if (isActive) Assert.Null(g["expires_at"]);
            else Assert.InRange(g["expires_at"]!.GetValue<DateTimeOffset>() - DateTimeOffset.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(24.1));
        }
    }

    [Fact]
    public async Task Publishing_over_the_API_rolls_back_and_back_again_with_the_validation_shown()
    {
        var request = new FilterCandidatesRequest { UserId = f.Predictions[0].UserId, Candidates = { new Candidate { ItemId = f.Catalog.Keys.First() } } };
        foreach (var _ in Enumerable.Range(0, 2))
        {
            var list = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/generations");
            string active = list!["active"]!.GetValue<string>();
            string other = list["generations"]!.AsArray().Select(g => g!["id"]!.GetValue<string>()).Single(id => id != active);
            var response = await f.Host.Admin.PostAsync($"/admin/v1/generations/{other}/publish", null);
            var json = await response.Content.ReadFromJsonAsync<JsonObject>();
            Assert.True(response.StatusCode == HttpStatusCode.OK, json?.ToJsonString());
            Assert.Equal(other, json!["active"]!.GetValue<string>());
            Assert.Equal(active, json["previous"]!.GetValue<string>());
            Assert.True(json["validation"]!["ok"]!.GetValue<bool>());
            Assert.Contains(json["validation"]!["checks"]!.AsArray(), c => c!.GetValue<string>().Contains("30 users readable", StringComparison.Ordinal));
            // The publishing replica refreshed before answering: its next answer comes from the published generation.
            Assert.Equal(other, (await f.Host.Client.FilterCandidatesAsync(request)).Generation);
            // The switch is in the audit, newest first, with who asked for it (a rollback: both were served before).
            var s = (await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/generations"))!["switches"]!.AsArray()[0]!;
            Assert.Equal(("rollback", other, active), (s["action"]!.GetValue<string>(), s["generation"]!.GetValue<string>(), s["previous"]!.GetValue<string>()));
            Assert.StartsWith("127.0.0.1", s["actor"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_generation_that_fails_validation_is_not_published_and_says_why()
    {
        using var mux = await RedisConnection.ConnectAsync(f.Redis.Endpoint, allowAdmin: true);
        var keys = new RedisKeys(f.Prefix);
        var db = mux.GetDatabase();
        var writer = await GenerationWriter.BeginAsync(db, keys, new StoreOptions { KeyPrefix = f.Prefix }, f.Codebook, 1, 0, "test");
        var id = writer.Meta.Id;
        var response = await f.Host.Admin.PostAsync($"/admin/v1/generations/{id}/publish", null);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Contains("is still being written", json!["error"]!.GetValue<string>());
        Assert.False(json["validation"]!["ok"]!.GetValue<bool>());
        Assert.NotEqual(id, (await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/generations"))!["active"]!.GetValue<string>());
        await GenerationRegistry.DeleteKeysAsync(db, keys, writer.Meta);
    }

    [Theory]
    [InlineData("count=0", "'count' = '0' must be an integer in [1, 10000]")]
    [InlineData("count=10001", "must be an integer in [1, 10000]")]
    [InlineData("count=abc", "'count' = 'abc' must be an integer")]
    [InlineData("count=-3", "must be an integer")]
    [InlineData("before=garbage", "'before' = 'garbage' must be the 'next' cursor of a previous audit page")]
    [InlineData("before=12-0123456789abcdef0", "'before'")]
    [InlineData("scene=bad%20name", "'scene' = 'bad name' must be 1-64 characters")]
    public async Task Bad_audit_paging_parameters_are_refused(string query, string message)
    {
        var response = await f.Host.Admin.GetAsync($"/admin/v1/audit?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, await ErrorOf(response));
    }

    [Fact]
    public async Task Audit_pages_follow_the_cursor_without_gaps_or_repeats_while_changes_arrive()
    {
        string scene = "paged-" + Guid.NewGuid().ToString("N")[..6];
        async Task PutAsync(string s, double t) => Assert.Equal(HttpStatusCode.OK, (await f.Host.Admin.PutAsync($"/admin/v1/thresholds/{s}", Json($"{{\"threshold\": {t}}}"))).StatusCode);
        for (int i = 0; i < 7; i++)
        {
            await PutAsync(scene, 0.1 + (i / 100.0));
            await PutAsync("paged-other", 0.5);
        }
        var seen = new List<double>();
        string? before = null;
        int pages = 0;
        do
        {
            var page = await f.Host.Admin.GetFromJsonAsync<JsonObject>($"/admin/v1/audit?count=3&scene={scene}{(before is null ? "" : "&before=" + before)}");
            var entries = page!["entries"]!.AsArray();
            Assert.All(entries, e => Assert.Equal(scene, e!["scene"]!.GetValue<string>()));
            seen.AddRange(entries.Select(e => Math.Round(e!["new_threshold"]!.GetValue<double>(), 4)));
            before = page["next"]?.GetValue<string>();
            pages++;
            await PutAsync(scene + "-later", 0.3); // new entries at the head must not shift the next page
        }
        while (before is not null);
        Assert.Equal(3, pages);
        Assert.Equal([0.16, 0.15, 0.14, 0.13, 0.12, 0.11, 0.1], seen);

        var unfiltered = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/audit?count=2");
        Assert.Equal(2, unfiltered!["entries"]!.AsArray().Count);
        Assert.NotNull(unfiltered["next"]);
    }

    [Fact]
    public async Task Health_reports_this_replicas_recent_calls()
    {
        var user = f.Predictions[5];
        var request = new FilterCandidatesRequest { UserId = user.UserId, Scene = "health-http" };
        request.Candidates.Add(new Candidate { ItemId = "hit", Sid = { f.SidJson(user.Sids[0]).Select(c => c!.GetValue<uint>()) } });
        request.Candidates.Add(new Candidate { ItemId = "unknown-item" });
        JsonObject? health = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            for (int i = 0; i < 5; i++) await f.Host.Client.FilterCandidatesAsync(request);
            health = await f.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/health");
            if (health!["reject_ratio_by_scene"]!["health-http"] is { } ratio && ratio.GetValue<double>() > 0) break;
            await Task.Delay(200);
        }
        Assert.Equal(10, health!["window_s"]!.GetValue<int>());
        Assert.True(health["requests_per_s"]!.GetValue<double>() > 0);
        Assert.True(health["p99_ms"]!.GetValue<double>() > 0);
        // One candidate of two is the user's own predicted SID (score 1): would reject; the other fails open (unknown item).
        // A call whose profile read missed its budget on a busy machine fails open and rejects neither.
        Assert.InRange(health["reject_ratio_by_scene"]!["health-http"]!.GetValue<double>(), 0.01, 0.5);
        Assert.True(health["fail_open_by_reason"]!["unknown_item"]!.GetValue<double>() > 0);
        Assert.Equal("closed", health["breaker"]!.GetValue<string>());
        Assert.True(health["store_reachable"]!.GetValue<bool>());
        Assert.NotNull(health["generation"]);
    }

    [Fact]
    public void A_missing_sample_directory_stops_the_service_at_start()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => FilterServiceHost.Build(["--redis", f.Redis.Endpoint, "--Admin:SamplesDirectory", "/no/such/dir"]));
        Assert.Contains("Admin:SamplesDirectory '/no/such/dir' is not a directory", ex.Message);
    }
}
