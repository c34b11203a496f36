using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoNRec.V1;
using Microsoft.Playwright;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace CoNRec.FilterService.Tests;

/// <summary>
/// The console, the service and Redis for a test class, plus one headless Chromium: Debian's chromium package driven by
/// Playwright (its bundled driver; no browser download). Screenshots go to the test output's screenshots/ folder.
/// </summary>
public sealed class ConsoleBrowserFixture : IAsyncLifetime
{
    public ConsoleFixture Service { get; } = new();
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>The system Chromium: CHROMIUM_PATH, else chromium on PATH (scripts/test.sh installs Debian's package).</summary>
    public static string ChromiumPath()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured) return configured;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            foreach (var name in new[] { "chromium", "chromium-browser" })
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new InvalidOperationException("chromium not found: install Debian's chromium package (scripts/test.sh does) or set CHROMIUM_PATH");
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Screenshots);
        await Service.InitializeAsync();
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath(),
            Headless = true,
            // A busy 2-core CI box: no GPU process, /tmp instead of a small /dev/shm.
            Args = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
            Timeout = 120_000,
        });
        // Generous waits: CI is a busy machine. No test asserts a duration.
        Assertions.SetDefaultExpectTimeout(30_000);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        Playwright?.Dispose();
        await Service.DisposeAsync();
    }
}

public sealed class ConsoleBrowserTests(ConsoleBrowserFixture fixture) : IClassFixture<ConsoleBrowserFixture>
{
    private ConsoleFixture F => fixture.Service;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A fresh browser context (its own sessionStorage) on the console; page errors (CSP violations included) are collected.</summary>
    private async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync()
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1000 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        var errors = new List<string>();
        // A 401 answer is logged by Chromium as a failed resource load: expected before login, not a page error.
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.Contains("401", StringComparison.Ordinal)) errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync($"{F.AdminUrl}/admin/");
        return (context, page, errors);
    }

    private static async Task LogInAsync(IPage page, string token = ServiceHost.Token)
    {
        await Expect(page.GetByTestId("login")).ToBeVisibleAsync();
        await page.GetByLabel("Admin bearer token").FillAsync(token);
        await page.GetByTestId("login-submit").ClickAsync();
    }

    private async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(fixture.Screenshots, name + ".png"), FullPage = true });

    private async Task PutAsync(string scene, string body) =>
        Assert.Equal(HttpStatusCode.OK, (await F.Host.Admin.PutAsync($"/admin/v1/thresholds/{scene}", Json(body))).StatusCode);

    [Fact]
    public async Task Log_in_change_a_threshold_and_see_it_in_the_API_and_in_the_audit_view()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        // Before login the page shows nothing but the login form.
        await Expect(page.GetByTestId("console")).ToBeHiddenAsync();
        await LogInAsync(page);
        await Expect(page.GetByTestId("console")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-testid=scene-row][data-scene=default]")).ToBeVisibleAsync();
        Assert.Equal(ServiceHost.Token, await page.EvaluateAsync<string>("() => sessionStorage.getItem('conrec.adminToken')"));
        Assert.DoesNotContain(ServiceHost.Token, page.Url, StringComparison.Ordinal);

        // Create a scene in shadow mode.
        await page.GetByLabel("Scene name").FillAsync("console-edit");
        await page.GetByTestId("new-threshold").FillAsync("0.75");
        await page.GetByTestId("new-mode").SelectOptionAsync("shadow");
        await page.GetByTestId("new-save").ClickAsync();
        var row = page.Locator("[data-testid=scene-row][data-scene=console-edit]");
        await Expect(row.GetByTestId("scene-threshold")).ToHaveTextAsync("0.75");
        await Expect(row.GetByTestId("scene-mode")).ToHaveTextAsync("shadow");

        // Inline validation mirrors the API: the same message, shown next to the field, and nothing is sent.
        await row.GetByTestId("scene-edit").ClickAsync();
        await Expect(page.GetByTestId("edit-scene-name")).ToHaveTextAsync("console-edit");
        await page.GetByTestId("edit-threshold").FillAsync("1.5");
        await page.GetByTestId("edit-guard-weight").FillAsync("2.5");
        await page.GetByTestId("edit-save").ClickAsync();
        var apiThreshold = await F.Host.Admin.PutAsync("/admin/v1/thresholds/console-edit", Json("{\"threshold\": 1.5}"));
        var apiGuard = await F.Host.Admin.PutAsync("/admin/v1/thresholds/console-edit", Json("{\"threshold\": 0.75, \"guard_weight\": 2.5}"));
        await Expect(page.GetByTestId("edit-threshold-error")).ToHaveTextAsync((await apiThreshold.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
        await Expect(page.GetByTestId("edit-guard-weight-error")).ToHaveTextAsync((await apiGuard.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>());
        await Expect(page.GetByTestId("edit-threshold")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.GetByTestId("edit-threshold")).ToBeFocusedAsync();

        // Change threshold and mode; enforce asks first. Cancel changes nothing, Confirm saves.
        await page.GetByTestId("edit-threshold").FillAsync("0.42");
        await page.GetByTestId("edit-guard-weight").FillAsync("");
        await page.GetByTestId("edit-mode").SelectOptionAsync("enforce");
        await page.GetByTestId("edit-save").ClickAsync();
        await Expect(page.GetByTestId("confirm-dialog")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("confirm-message")).ToContainTextAsync("shadow → enforce");
        await page.GetByTestId("confirm-cancel").ClickAsync();
        await Expect(page.GetByTestId("confirm-dialog")).ToBeHiddenAsync();
        await Expect(row.GetByTestId("scene-threshold")).ToHaveTextAsync("0.75");
        await page.GetByTestId("edit-save").ClickAsync();
        await page.GetByTestId("confirm-ok").ClickAsync();
        await Expect(row.GetByTestId("scene-threshold")).ToHaveTextAsync("0.42");
        await Expect(row.GetByTestId("scene-mode")).ToHaveTextAsync("enforce");
        await Expect(row.GetByTestId("scene-updated")).ToContainTextAsync("(put)");
        await Expect(row.GetByTestId("scene-updated-by")).ToContainTextAsync("127.0.0.1");
        await ScreenshotAsync(page, "scenes");

        var all = await F.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/thresholds");
        Assert.Equal(0.42, all!["scenes"]!["console-edit"]!["threshold"]!.GetValue<double>(), 5);
        Assert.Equal("enforce", all["scenes"]!["console-edit"]!["mode"]!.GetValue<string>());

        // The audit view, filtered by the scene: the change is there, newest first.
        await page.GetByRole(AriaRole.Tab, new() { Name = "Audit" }).ClickAsync();
        await page.GetByTestId("view-audit").GetByLabel("Scene", new() { Exact = true }).FillAsync("console-edit");
        await page.GetByTestId("audit-apply").ClickAsync();
        var auditRows = page.GetByTestId("audit-row");
        await Expect(auditRows).ToHaveCountAsync(2);
        await Expect(auditRows.First.GetByTestId("audit-threshold")).ToHaveTextAsync("0.75 → 0.42");
        await Expect(auditRows.First.GetByTestId("audit-mode")).ToHaveTextAsync("shadow → enforce");
        await Expect(auditRows.Nth(1).GetByTestId("audit-threshold")).ToHaveTextAsync("0.75");
        Assert.All(await page.GetByTestId("audit-row-scene").AllTextContentsAsync(), s => Assert.Equal("console-edit", s));
        await ScreenshotAsync(page, "audit");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Upload_samples_click_a_curve_point_apply_and_FilterCandidates_serves_it()
    {
        await PutAsync("console-tune", "{\"threshold\": 0.995, \"mode\": \"enforce\"}");
        var samplesFile = Path.Combine(F.Samples.Path, "..", $"upload-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(samplesFile, F.TuneSamples().Select(s => s.ToJsonString()));
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        try
        {
            await LogInAsync(page);
            await page.GetByRole(AriaRole.Tab, new() { Name = "Tuning" }).ClickAsync();
            await page.GetByTestId("view-tuning").GetByLabel("Scene", new() { Exact = true }).SelectOptionAsync("console-tune");
            await Expect(page.GetByTestId("tune-current-threshold")).ToHaveTextAsync("0.995 (enforce)");
            await Expect(page.GetByTestId("tune-guard-weight")).ToHaveValueAsync("0.5");
            await Expect(page.GetByTestId("tune-predicted-weight")).ToHaveValueAsync("1");
            await page.GetByTestId("tune-file").SetInputFilesAsync(samplesFile);
            await Expect(page.GetByTestId("tune-parse-status")).ToContainTextAsync("82 samples (JSONL): 41 disliked, 41 liked");
            await page.GetByTestId("tune-objective-value").FillAsync("0.05");
            await page.GetByTestId("tune-compute").ClickAsync();

            await Expect(page.GetByTestId("tune-result")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("curve-chart")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("detail-skipped-no-predictions")).ToHaveTextAsync("1");
            await Expect(page.GetByTestId("detail-skipped-unknown-item")).ToHaveTextAsync("1");
            await Expect(page.GetByTestId("detail-scored")).ToHaveTextAsync("80");
            await Expect(page.GetByTestId("detail-kind")).ToHaveTextAsync("recommended");
            await Expect(page.GetByTestId("marker-recommended")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("marker-current")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("objective-line")).ToHaveCountAsync(1);

            // Click a point in the trade-off part of the curve, the one farthest from every other (no neighbour overlaps it).
            var points = await page.EvaluateAsync<JsonElement>(
                "() => [...document.querySelectorAll('[data-testid=curve-point]')].map(c => ({ i: +c.dataset.index, t: c.dataset.threshold, x: +c.getAttribute('cx'), y: +c.getAttribute('cy'), title: c.querySelector('title').textContent }))");
            var list = points.EnumerateArray().Select(p => (I: p.GetProperty("i").GetInt32(), T: p.GetProperty("t").GetString()!, X: p.GetProperty("x").GetDouble(),
                Y: p.GetProperty("y").GetDouble(), Title: p.GetProperty("title").GetString()!)).ToList();
            Assert.True(list.Count >= 5, $"{list.Count} curve points");
            Assert.All(list, p => Assert.Contains("precision", p.Title, StringComparison.Ordinal)); // the tooltip
            string recommended = (await page.GetByTestId("marker-recommended").GetAttributeAsync("data-threshold"))!;
            var liked = (await TuneCurveAsync()).ToDictionary(p => (float)p["threshold"]!.GetValue<double>(), p => p["liked_reject_rate"]!.GetValue<double>());
            var chosen = list.Where(p => p.T != recommended && liked[float.Parse(p.T, CultureInfo.InvariantCulture)] is > 0.05 and < 0.5)
                .MaxBy(p => list.Where(q => q.I != p.I).Min(q => Math.Sqrt(((p.X - q.X) * (p.X - q.X)) + ((p.Y - q.Y) * (p.Y - q.Y)))));
            var point = page.Locator($"[data-testid=curve-point][data-index='{chosen.I}']");
            await point.ClickAsync();
            await Expect(point).ToHaveAttributeAsync("aria-pressed", "true");
            await Expect(page.GetByTestId("marker-selected")).ToHaveAttributeAsync("data-threshold", chosen.T);
            await Expect(page.GetByTestId("detail-kind")).ToHaveTextAsync("chosen");
            float threshold = float.Parse(chosen.T, CultureInfo.InvariantCulture);
            var curve = (await TuneCurveAsync()).Single(p => (float)p["threshold"]!.GetValue<double>() == threshold);
            await Expect(page.GetByTestId("detail-disliked")).ToHaveTextAsync(Pct(curve["disliked_reject_rate"]!.GetValue<double>()));
            await Expect(page.GetByTestId("detail-liked")).ToHaveTextAsync(Pct(curve["liked_reject_rate"]!.GetValue<double>()));
            await ScreenshotAsync(page, "tuning");

            await page.GetByTestId("tune-apply").ClickAsync();
            await Expect(page.GetByTestId("confirm-dialog")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("confirm-message")).ToContainTextAsync("threshold 0.995 →");
            await page.GetByTestId("confirm-ok").ClickAsync();
            await Expect(page.GetByTestId("status")).ToContainTextAsync("threshold set to");
            await Expect(page.GetByTestId("marker-current")).ToHaveAttributeAsync("data-threshold", chosen.T);

            var all = await F.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/thresholds");
            Assert.Equal(threshold, (float)all!["scenes"]!["console-tune"]!["threshold"]!.GetValue<double>());
            // Served: the threshold, and a user's own predicted SID (score 1 > threshold) rejected in enforce mode.
            var user = F.Predictions[2];
            var request = new FilterCandidatesRequest { UserId = user.UserId, Scene = "console-tune" };
            request.Candidates.Add(new Candidate { ItemId = "own", Sid = { F.SidJson(user.Sids[0]).Select(c => c!.GetValue<uint>()) } });
            var response = await ScoredAsync(request);
            Assert.Equal(threshold, response.Threshold);
            Assert.Equal(Mode.Enforce, response.Mode);
            Assert.True(response.Decisions[0].Rejected);
            var audit = await F.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/audit?count=1&scene=console-tune");
            Assert.Equal(threshold, (float)audit!["entries"]![0]!["new_threshold"]!.GetValue<double>());
            Assert.Empty(errors);
        }
        finally { File.Delete(samplesFile); }
    }

    private async Task<List<JsonObject>> TuneCurveAsync()
    {
        var body = new JsonObject { ["samples"] = new JsonArray([.. F.TuneSamples()]), ["objective"] = new JsonObject { ["max_false_reject_rate"] = 0.05 } };
        var json = await (await F.Host.Admin.PostAsync("/admin/v1/thresholds/console-tune/tune", Json(body.ToJsonString()))).Content.ReadFromJsonAsync<JsonObject>();
        return json!["curve"]!.AsArray().Select(p => p!.AsObject()).ToList();
    }

    /// <summary>
    /// A call whose every candidate was scored: on a busy machine a profile read can miss its 25 ms budget and fail open
    /// (by design), so a decision is only checked once it was really made.
    /// </summary>
    private async Task<FilterCandidatesResponse> ScoredAsync(FilterCandidatesRequest request)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var response = await F.Host.Client.FilterCandidatesAsync(request);
            if (response.Decisions.All(d => d.Reason == Reason.Scored) || DateTime.UtcNow > deadline) return response;
            await Task.Delay(100);
        }
    }

    private static string Pct(double x) => (x * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";

    [Fact]
    public async Task A_recent_sample_file_on_the_server_can_be_picked_and_the_objective_edited()
    {
        await PutAsync("console-files", "{\"threshold\": 0.9, \"mode\": \"shadow\"}");
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await LogInAsync(page);
        await page.GetByRole(AriaRole.Tab, new() { Name = "Tuning" }).ClickAsync();
        await page.GetByTestId("view-tuning").GetByLabel("Scene", new() { Exact = true }).SelectOptionAsync("console-files");
        await page.GetByLabel("A file on the server").CheckAsync();
        await Expect(page.Locator("#tune-server-file option[value='labelled.csv']")).ToHaveCountAsync(1);
        await page.GetByLabel("Server sample file").SelectOptionAsync("labelled.csv");
        await page.GetByLabel("Min precision (share of rejected that were disliked)").CheckAsync();
        await page.GetByTestId("tune-objective-value").FillAsync("1.5");
        await page.GetByTestId("tune-compute").ClickAsync();
        await Expect(page.GetByTestId("tune-objective-value-error")).ToHaveTextAsync("'min_precision' = 1.5 must be a finite number in [0, 1]");
        await page.GetByTestId("tune-objective-value").FillAsync("0.9");
        await page.GetByTestId("tune-compute").ClickAsync();
        await Expect(page.GetByTestId("tune-summary")).ToContainTextAsync("82 samples sent, 80 scored (40 disliked, 40 liked). Objective: min precision 90.0%.");
        await Expect(page.GetByTestId("detail-sample-file")).ToHaveTextAsync("labelled.csv");
        await Expect(page.GetByTestId("objective-line")).ToHaveCountAsync(0); // a min-precision objective has no x-axis line
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Roll_back_a_generation_and_FilterCandidates_answers_with_it()
    {
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await LogInAsync(page);
        string active = (await F.Host.Admin.GetFromJsonAsync<JsonObject>("/admin/v1/generations"))!["active"]!.GetValue<string>();
        string target = active == F.Second.Id ? F.First.Id : F.Second.Id;
        await page.GetByRole(AriaRole.Tab, new() { Name = "Generations" }).ClickAsync();
        var activeRow = page.Locator($"[data-testid=generation-row][data-generation='{active}']");
        var targetRow = page.Locator($"[data-testid=generation-row][data-generation='{target}']");
        await Expect(activeRow.GetByTestId("generation-active")).ToBeVisibleAsync();
        await Expect(activeRow).ToHaveAttributeAsync("aria-current", "true");
        await Expect(targetRow).ToHaveAttributeAsync("data-status", "retired");
        await Expect(targetRow.GetByTestId("generation-hash")).ToHaveAttributeAsync("title", F.First.CodebookHash);
        await ScreenshotAsync(page, "generations");

        await targetRow.GetByRole(AriaRole.Button, new() { Name = $"Roll back to generation {target}" }).ClickAsync();
        await Expect(page.GetByTestId("confirm-message")).ToContainTextAsync($"Publish generation {target}");
        await page.GetByTestId("confirm-ok").ClickAsync();
        await Expect(page.GetByTestId("generation-validation-result")).ToHaveTextAsync($"Generation {target} is now active (previous: {active}).");
        await Expect(page.GetByTestId("generation-validation-checks")).ToContainTextAsync("30 users readable");
        await Expect(targetRow.GetByTestId("generation-active")).ToBeVisibleAsync();
        await Expect(activeRow).ToHaveAttributeAsync("data-status", "retired");
        var newest = page.GetByTestId("switch-row").First;
        await Expect(newest).ToHaveAttributeAsync("data-generation", target);
        await Expect(newest).ToHaveAttributeAsync("data-action", "rollback");
        await Expect(newest).ToContainTextAsync(active);
        await Expect(newest).ToContainTextAsync("HeadlessChrome");
        await ScreenshotAsync(page, "rollback");

        var request = new FilterCandidatesRequest { UserId = F.Predictions[1].UserId, Candidates = { new Candidate { ItemId = F.Catalog.Keys.First() } } };
        var response = await ScoredAsync(request);
        Assert.Equal(target, response.Generation);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_wrong_token_shows_an_error_and_no_data()
    {
        var (context, page, _) = await OpenAsync();
        await using var __ = context;
        await LogInAsync(page, "wrong-token-wrong-token-0000");
        await Expect(page.GetByTestId("login-error")).ToHaveTextAsync("The token was refused (401)");
        await Expect(page.GetByTestId("login-token")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.GetByTestId("console")).ToBeHiddenAsync();
        await Expect(page.GetByTestId("scene-row")).ToHaveCountAsync(0);
        await Expect(page.GetByTestId("generation-row")).ToHaveCountAsync(0);
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('conrec.adminToken')"));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => document.querySelectorAll('#scenes-body tr, #tune-scene option, #generations-body tr, #audit-body tr').length"));
        await ScreenshotAsync(page, "wrong-token");

        // The right token afterwards works, and logging out clears everything again.
        await LogInAsync(page);
        await Expect(page.GetByTestId("scene-row").First).ToBeVisibleAsync();
        await page.GetByTestId("logout").ClickAsync();
        await Expect(page.GetByTestId("login")).ToBeVisibleAsync();
        await Expect(page.GetByTestId("scene-row")).ToHaveCountAsync(0);
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('conrec.adminToken')"));
    }

    [Fact]
    public async Task Live_health_shows_this_replicas_traffic_and_refreshes()
    {
        var user = F.Predictions[4];
        var request = new FilterCandidatesRequest { UserId = user.UserId, Scene = "console-health" };
        request.Candidates.Add(new Candidate { ItemId = "own", Sid = { F.SidJson(user.Sids[0]).Select(c => c!.GetValue<uint>()) } });
        request.Candidates.Add(new Candidate { ItemId = "not-in-catalog" });
        using var traffic = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            while (!traffic.IsCancellationRequested)
            {
                await F.Host.Client.FilterCandidatesAsync(request);
                await Task.Delay(50);
            }
        });
        try
        {
            var (context, page, errors) = await OpenAsync();
            await using var _ = context;
            await LogInAsync(page);
            await page.GetByRole(AriaRole.Tab, new() { Name = "Health" }).ClickAsync();
            // Half the candidates would be rejected; a call that failed open (a slow store read on a busy box) rejects none.
            var ratio = page.Locator("#health-reject-body tr[data-scene=console-health] td");
            await Expect(ratio).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d+\.\d%$"));
            Assert.InRange(double.Parse((await ratio.TextContentAsync())!.TrimEnd('%'), CultureInfo.InvariantCulture), 0.1, 50.0);
            await Expect(page.GetByTestId("health-breaker")).ToHaveTextAsync("closed");
            await Expect(page.GetByTestId("health-store")).ToHaveTextAsync("reachable");
            await Expect(page.Locator("#health-failopen-body tr[data-reason=unknown_item] td")).Not.ToHaveTextAsync("0.0");
            // It polls: the last-update time changes without any click.
            string first = (await page.GetByTestId("health-updated").TextContentAsync())!;
            await Expect(page.GetByTestId("health-updated")).Not.ToHaveTextAsync(first);
            await Expect(page.Locator("#health-spark-rps polyline")).ToHaveCountAsync(1);
            Assert.True(double.Parse((await page.GetByTestId("health-rps").TextContentAsync())!, CultureInfo.InvariantCulture) > 0);
            await ScreenshotAsync(page, "health");
            Assert.Empty(errors);
        }
        finally
        {
            await traffic.CancelAsync();
            await sender;
        }
    }

    [Fact]
    public async Task Keyboard_only_a_curve_point_can_be_chosen_and_tabs_switch_with_arrows()
    {
        await PutAsync("console-keys", "{\"threshold\": 0.9, \"mode\": \"shadow\"}");
        var (context, page, errors) = await OpenAsync();
        await using var _ = context;
        await LogInAsync(page);
        await page.GetByRole(AriaRole.Tab, new() { Name = "Scenes" }).FocusAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.GetByRole(AriaRole.Tab, new() { Name = "Tuning" })).ToBeFocusedAsync();
        await Expect(page.GetByTestId("view-tuning")).ToBeVisibleAsync();
        await page.GetByTestId("view-tuning").GetByLabel("Scene", new() { Exact = true }).SelectOptionAsync("console-keys");
        await page.GetByLabel("A file on the server").CheckAsync();
        await page.GetByLabel("Server sample file").SelectOptionAsync("labelled.jsonl");
        await page.GetByTestId("tune-compute").PressAsync("Enter");
        var points = page.GetByTestId("curve-point");
        await Expect(points.First).ToBeVisibleAsync();
        await points.First.FocusAsync();
        // The recommended point is selected at first; walk to another one with the arrow keys and take it with Enter.
        await Expect(page.Locator("[data-testid=curve-point][aria-pressed=true]")).ToHaveCountAsync(1);
        int recommended = await page.EvaluateAsync<int>("() => [...document.querySelectorAll('[data-testid=curve-point]')].findIndex(c => c.getAttribute('aria-pressed') === 'true')");
        int target = recommended == 2 ? 3 : 2;
        for (int i = 0; i < target; i++) await page.Keyboard.PressAsync("ArrowRight");
        await page.Keyboard.PressAsync("Enter");
        await Expect(points.Nth(target)).ToHaveAttributeAsync("aria-pressed", "true");
        await Expect(points.Nth(target)).ToBeFocusedAsync();
        await Expect(points.Nth(recommended)).ToHaveAttributeAsync("aria-pressed", "false");
        await Expect(page.GetByTestId("detail-threshold")).Not.ToHaveTextAsync("—");
        Assert.Empty(errors);
    }

    /// <summary>
    /// The console's pure modules (sample parsing, validation that mirrors the API, chart geometry, formatting), run in the
    /// real browser as the page loads them: the checks the previous node-only test file made.
    /// </summary>
    [Fact]
    public async Task The_console_modules_parse_validate_and_format_as_the_API_expects()
    {
        var (context, page, _) = await OpenAsync();
        await using var __ = context;
        var failures = await page.EvaluateAsync<string[]>(ModuleChecks);
        Assert.True(failures.Length == 0, string.Join("\n", failures));
    }

    private const string ModuleChecks = """"
        async () => {
          const s = await import('/admin/samples.js');
          const v = await import('/admin/validate.js');
          const c = await import('/admin/chart.js');
          const f = await import('/admin/format.js');
          const failures = [];
          // Key order does not matter, as with a deep equality.
          const canon = x => JSON.stringify(x, (k, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v));
          const eq = (name, actual, expected) => {
            if (canon(actual) !== canon(expected)) failures.push(`${name}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
          };
          const like = (name, actual, pattern) => { if (!pattern.test(String(actual))) failures.push(`${name}: ${JSON.stringify(actual)} does not match ${pattern}`); };

          let r = s.parseJsonl('{"user_id":"u1","item_id":"i9","sid":[1,2,3],"disliked":true}\n\n{"user_id":"u2","item_id":"i7","disliked":false}\r\n  {"user_id":"u3","item_id":"i8","sid":null,"disliked":false}  ');
          eq('jsonl samples', r.samples, [{ user_id: 'u1', item_id: 'i9', sid: [1, 2, 3], disliked: true }, { user_id: 'u2', item_id: 'i7', disliked: false }, { user_id: 'u3', item_id: 'i8', disliked: false }]);
          eq('jsonl no errors', r.errors, []);
          eq('jsonl bom', s.parseJsonl('\uFEFF{"user_id":"u","item_id":"i","disliked":true}\n').samples.length, 1);
          r = s.parseJsonl(['{"user_id":"u1","item_id":"i1","disliked":true}', '{"user_id":"u1"', '[1,2]', '{"user_id":"","item_id":"i1","disliked":true}',
            '{"user_id":"u1","item_id":"i1","disliked":"yes"}', '{"user_id":"u1","item_id":"i1","sid":[1,-2],"disliked":true}'].join('\n'));
          eq('jsonl bad lines', r.errors.map(e => e.line), [2, 3, 4, 5, 6]);
          like('jsonl bad json', r.errors[0].message, /not valid JSON/);
          like('jsonl empty user', r.errors[2].message, /'user_id'/);
          like('jsonl disliked', r.errors[3].message, /'disliked'/);
          like('jsonl sid code', r.errors[4].message, /sid\[1\]/);
          like('jsonl empty file', s.parseJsonl('\n \n').errors[0].message, /no samples/);
          r = s.parseJsonl(Array.from({ length: 150 }, () => 'nope').join('\n'));
          eq('jsonl error cap', [r.errors.length, r.moreErrors], [100, 50]);
          like('too many samples', s.parseJsonl('{"user_id":"u","item_id":"i","disliked":true}\n'.repeat(s.MAX_SAMPLES + 1)).errors[0].message, /at most 100000/);

          r = s.parseCsv('Disliked,USER_ID,item_id\r\ntrue,u1,i1\r\n0,u2,i2\r\nFALSE,u3,i3\r\n');
          eq('csv any order', r.samples, [{ user_id: 'u1', item_id: 'i1', disliked: true }, { user_id: 'u2', item_id: 'i2', disliked: false }, { user_id: 'u3', item_id: 'i3', disliked: false }]);
          r = s.parseCsv('user_id,item_id,sid,disliked,note\nu1,i1,1 2 3,true,x\nu2,i2,4|5|6,false,y\nu3,i3,7;8;9,1,\nu4,i4,,0,z\n');
          eq('csv sid', r.samples.map(x => x.sid ?? null), [[1, 2, 3], [4, 5, 6], [7, 8, 9], null]);
          r = s.parseCsv('user_id,item_id,disliked\n"u,1","i ""9""",true\n"u\n2",i2,false\nu3,i3,true\n');
          eq('csv quoted', r.samples.map(x => x.user_id), ['u,1', 'u\n2', 'u3']);
          eq('csv escaped quote', r.samples[0].item_id, 'i "9"');
          eq('csv record lines', s.splitCsv('user_id,item_id,disliked\n"u,1","i ""9""",true\n"u\n2",i2,false\nu3,i3,true\n').records.map(x => x.line), [1, 2, 3, 5]);
          r = s.parseCsv('user_id,item_id,sid,disliked\nu1,i1,1 2,true\nu2,i2,1 x,true\nu3,i3,,maybe\nu4,i4\n,i5,,true\n\nu7,,,false\nu8,i8,99999999999,true\nu9,i9,3,false');
          eq('csv bad lines', r.errors.map(e => e.line), [3, 4, 5, 6, 8, 9]);
          like('csv disliked', r.errors[1].message, /'disliked' = 'maybe'/);
          like('csv header', s.parseCsv('user,item_id,label\nu1,i1,true\n').errors[0].message, /missing user_id, disliked/);
          eq('csv unclosed quote', s.parseCsv('user_id,item_id,disliked\nu1,i1,true\nu2,"i2,false\n').errors.some(e => e.line === 3 && /not closed/.test(e.message)), true);
          eq('by extension', [s.parseSampleFile('a.jsonl', '{}').format, s.parseSampleFile('A.CSV', 'x').format, s.parseSampleFile('a.txt', '{"a":1}').format], ['jsonl', 'csv', 'jsonl']);

          // The messages the API gives for the same input (SceneStore, SceneSettings, ProfileScoring).
          eq('scene name ok', v.validateSceneName('home.feed_v-2'), null);
          eq('scene name bad', v.validateSceneName('bad name'), "'scene' = 'bad name' must be 1-64 characters of letters, digits, '_', '.' or '-'");
          eq('threshold ok', v.parseThreshold('-1'), { value: -1, error: null });
          eq('threshold bad', v.parseThreshold('2').error, "'threshold' = 2 must be a finite number in [-1, 1]");
          eq('guard bad', v.parseGuardWeight('2.5').error, "'guard_weight' = 2.5 must be a finite number in [0, 2]");
          eq('predicted bad', v.parsePredictedWeight('1.5').error, "'predicted_weight' = 1.5 must be a finite number in [0, 1]");
          eq('guard optional', v.parseGuardWeight(''), { value: undefined, error: null });
          eq('mode', v.validateMode('block'), `'mode' must be one of "enforce", "shadow", "off"`);
          eq('server fields', ["'threshold' = 2 must be", "'objective.min_precision' must", "'samples[3].sid' must", "'sample_file' = 'x' is not", 'store unavailable'].map(v.fieldOfServerError),
            ['threshold', 'objective', 'samples', 'sample_file', null]);
          eq('enforce confirmation', [['shadow', 'enforce'], [undefined, 'enforce'], ['enforce', 'enforce'], ['enforce', 'shadow']].map(([a, b]) => v.needsEnforceConfirmation(a, b)), [true, true, false, false]);

          const curve = [0.95, 0.9, 0.85, 0.8].map(threshold => ({ threshold }));
          eq('current point', [0.9, 0.87, 0.5, 0.99, null].map(t => c.currentPointIndex(curve, t)), [1, 1, 3, -1, -1]);
          eq('recommended point', [c.pointIndex(curve, { threshold: 0.85 }), c.pointIndex(curve, null)], [2, -1]);
          eq('ticks', c.ticks(1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
          eq('sparkline', c.sparkPoints([1, 3], 100, 20, 0), '0.0,20.0 100.0,0.0');
          eq('pct', [f.pct(0.0312), f.pct(1), f.pct(null)], ['3.1%', '100.0%', '—']);
          eq('num', [f.num(0.8999999761581421), f.num(0.87340003), f.num(-0), f.num(undefined)], ['0.9', '0.8734', '0', '—']);
          return failures;
        }
        """";
}
