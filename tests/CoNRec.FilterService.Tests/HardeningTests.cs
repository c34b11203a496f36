using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>A log sink for tests: every entry with its level and category.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message, Exception? Exception)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    public Action<WebApplicationBuilder> Install(LogLevel minimum) => builder =>
    {
        builder.Logging.AddProvider(this);
        // As an operator would: the configured default level, not a provider-specific rule that outranks the host's own.
        builder.Configuration["Logging:LogLevel:Default"] = minimum.ToString();
    };

    private sealed class Logger(LogCapture sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Entries.Enqueue((logLevel, category, formatter(state, exception), exception));
    }
}

/// <summary>
/// Bad input and misuse, each observed with an independent client against the earlier main: malformed gRPC bodies,
/// oversized and invalid admin bodies, wrong methods, leaking store details, secrets and volume in logs, tight
/// deadlines while Redis hangs, overload, unbounded caches, an unsafe admin bind.
/// </summary>
public sealed class HardeningTests : IAsyncLifetime
{
    private readonly RedisServerProcess _redis = new RedisServerProcess().Start();
    private readonly TempDir _data = TempDir.WithSample(new SampleData.Spec(Users: 10, Items: 80));
    private readonly string _prefix = "hard" + Guid.NewGuid().ToString("N")[..6];
    private readonly LogCapture _logs = new();
    private ServiceHost _host = null!;

    public async Task InitializeAsync()
    {
        using (var mux = await RedisConnection.ConnectAsync(_redis.Endpoint, allowAdmin: true))
            await new GenerationLoader(mux, new RedisKeys(_prefix), new StoreOptions { KeyPrefix = _prefix })
                .LoadAsync(_data.File("codebook.safetensors"), _data.File("catalog.jsonl"), _data.File("predictions.jsonl"), publish: true);
        _host = await ServiceHost.StartAsync(_redis.Endpoint, _prefix, _logs.Install(LogLevel.Debug), "--Filter:MaxConcurrentRequests", "2",
            "--Store:BreakerMinimumThroughput", "100000"); // no breaker: every call while Redis hangs holds the gate for the 25 ms budget
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_host.State.Current.Generation is null && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    public async Task DisposeAsync()
    {
        _redis.Resume();
        await _host.DisposeAsync();
        _redis.Dispose();
        _data.Dispose();
    }

    /// <summary>Sends raw bytes as a FilterCandidates request body, as a broken client would.</summary>
    private async Task<RpcException> RawCallAsync(byte[] body)
    {
        var method = new Method<byte[], byte[]>(MethodType.Unary, "conrec.v1.NegativeFilter", "FilterCandidates",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        return await Assert.ThrowsAsync<RpcException>(async () => await _host.Channel.CreateCallInvoker().AsyncUnaryCall(method, null, new CallOptions(), body));
    }

    private static byte[] Field(int number, byte[] value) => [(byte)((number << 3) | 2), (byte)value.Length, .. value];

    [Fact]
    public async Task Malformed_request_bodies_are_invalid_argument_with_one_short_log_line()
    {
        byte[] badUtf8 = [0xC3, 0x28];
        var cases = new (string What, byte[] Body)[]
        {
            ("user_id", Field(1, badUtf8)),
            ("scene", [.. Field(1, "u1"u8.ToArray()), .. Field(2, badUtf8)]),
            ("item_id", [.. Field(1, "u1"u8.ToArray()), .. Field(3, Field(1, badUtf8))]),
            ("truncated", [0x0A, 0x10, (byte)'u']),
            ("garbage", [0xFF, 0xFF, 0xFF, 0xFF]),
        };
        foreach (var (what, body) in cases)
        {
            int before = _logs.Entries.Count;
            var e = await RawCallAsync(body);
            Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{what}: {e.Status}");
            Assert.Contains("not a valid conrec.v1.FilterCandidatesRequest", e.Status.Detail);
            var logged = _logs.Entries.Skip(before).Where(x => x.Level >= LogLevel.Warning).ToList();
            var line = Assert.Single(logged);
            Assert.Null(line.Exception);
            Assert.True(line.Message.Length < 300, line.Message);
        }
    }

    [Fact]
    public async Task A_huge_scene_is_refused_as_invalid_argument_with_a_bounded_message()
    {
        var request = new FilterCandidatesRequest { UserId = "u1", Scene = new string('x', 10_000) };
        var e = await Assert.ThrowsAsync<RpcException>(async () => await _host.Client.FilterCandidatesAsync(request));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode); // not RESOURCE_EXHAUSTED from an oversized grpc-message trailer
        Assert.Contains("(10000 characters)", e.Status.Detail);
        Assert.True(e.Status.Detail.Length < 300);
    }

    [Fact]
    public async Task Admin_json_with_invalid_utf8_is_a_400_with_a_reason()
    {
        foreach (var body in new[] { "{\"threshold\": 0.5, \"mode\": \"enf\xFFrce\"}", "{\"samples\": [{\"user_id\": \"u\xFF\", \"item_id\": \"i1\", \"disliked\": true}], \"objective\": {\"min_precision\": 0.5}}" })
        {
            var bytes = body.Select(c => (byte)c).ToArray(); // Latin-1 bytes: \xFF is not UTF-8
            var path = body.Contains("samples") ? "/admin/v1/thresholds/x/tune" : "/admin/v1/thresholds/x";
            using var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new("application/json");
            var response = body.Contains("samples") ? await _host.Admin.PostAsync(path, content) : await _host.Admin.PutAsync(path, content);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("not valid UTF-8", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task A_chunked_body_over_the_limit_is_refused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/admin/v1/thresholds/x/tune") { Content = new EndlessJson(40L << 20) };
        request.Headers.TransferEncodingChunked = true;
        HttpResponseMessage? response = null;
        try { response = await _host.Admin.SendAsync(request); }
        catch (HttpRequestException) { } // the server may close the connection while we still send
        if (response is not null) Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        // Either way the service is still up and did not keep 40 MiB: the next call works.
        Assert.Equal(HttpStatusCode.OK, (await _host.Admin.GetAsync("/admin/v1/thresholds")).StatusCode);
        Assert.True(response is not null || true);
    }

    private sealed class EndlessJson(long bytes) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var chunk = Encoding.ASCII.GetBytes("[" + new string('1', 65534));
            for (long sent = 0; sent < bytes; sent += chunk.Length) await stream.WriteAsync(chunk);
        }

        protected override bool TryComputeLength(out long length) { length = -1; return false; }
    }

    [Fact]
    public async Task Readyz_waits_for_the_transport_warm_up_through_the_grpc_port()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage ready;
        while ((ready = await _host.Admin.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        // Ready means warmed (2 connections here, the gate's limit, 25 calls each): every self-call went through Kestrel and the gRPC pipeline and answered OK, under its own scene.
        var line = Assert.Single(_logs.Entries, x => x.Message.StartsWith("Transport warm-up:", StringComparison.Ordinal)).Message;
        var counts = System.Text.RegularExpressions.Regex.Match(line, @"Transport warm-up: (\d+) of (\d+) self-calls answered");
        Assert.True(counts.Success, line);
        Assert.Equal(counts.Groups[2].Value, counts.Groups[1].Value); // every call answered OK
        Assert.True(int.Parse(counts.Groups[2].Value) >= 50, line);
        var metrics = await _host.Admin.GetStringAsync("/metrics");
        var warm = System.Text.RegularExpressions.Regex.Match(metrics, @"^conrec_filter_warmup_calls_total (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline);
        // Counted apart (the registry is process-wide, so other test hosts' warm-ups add to it).
        Assert.True(warm.Success && int.Parse(warm.Groups[1].Value) >= int.Parse(counts.Groups[2].Value), metrics);
    }

    [Fact]
    public async Task A_wrong_method_is_405_with_allow()
    {
        var response = await _host.Admin.DeleteAsync("/admin/v1/thresholds");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("GET", response.Content.Headers.Allow);
        // The gRPC port still does not serve admin paths at all.
        using var grpcPort = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_host.GrpcPort}"), DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        Assert.Equal(HttpStatusCode.NotFound, (await grpcPort.GetAsync("/admin/v1/thresholds")).StatusCode);
    }

    [Fact]
    public async Task Secrets_in_query_strings_never_reach_the_log_and_requests_log_only_at_debug()
    {
        const string secret = "SECRET-token-value-1234567890";
        await _host.Admin.GetAsync($"/admin/v1/thresholds?access_token={secret}");
        for (int i = 0; i < 20; i++) await _host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u1", Candidates = { new Candidate { ItemId = "i1" } } });
        Assert.DoesNotContain(_logs.Entries, x => x.Message.Contains(secret, StringComparison.Ordinal));
        // Per-request lines exist at Debug (we asked for Debug) and never at Information.
        Assert.Contains(_logs.Entries, x => x.Level == LogLevel.Debug && x.Category == "CoNRec.FilterService.Requests");
        Assert.DoesNotContain(_logs.Entries, x => x.Level == LogLevel.Information && (x.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            || x.Category.StartsWith("Grpc", StringComparison.Ordinal) || x.Category == "CoNRec.FilterService.Requests"));
    }

    [Fact]
    public async Task While_redis_hangs_tight_deadlines_are_kept_and_overload_is_explicit_and_store_errors_stay_short()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(5), DeadlineBudget.ForStore(TimeSpan.FromMilliseconds(10))); // half left for the response
        var request = new FilterCandidatesRequest { UserId = "u2", Candidates = { new Candidate { ItemId = "i1" }, new Candidate { ItemId = "i2", Sid = { 1, 2, 3 } } } };
        _redis.Pause();
        try
        {
            // A hung Redis: every call answers OK within its deadline, failing open. 100 ms is 4x the 25 ms store budget, the
            // margin a shared 2-core CI box needs; benchmarks/fault-loop.sh holds 10-20 ms deadlines next to a CPU burner.
            for (int i = 0; i < 30; i++)
            {
                var r = await _host.Client.FilterCandidatesAsync(request, deadline: DateTime.UtcNow.AddMilliseconds(100));
                Assert.All(r.Decisions, d => Assert.Equal((Reason.StoreUnavailable, false), (d.Reason, d.Rejected)));
            }
            // Overload: two calls in flight at most here; each waits for the hung store, so a burst meets RESOURCE_EXHAUSTED at once.
            var burst = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
            {
                try { await _host.Client.FilterCandidatesAsync(request, deadline: DateTime.UtcNow.AddSeconds(5)); return StatusCode.OK; }
                catch (RpcException e) { return e.StatusCode; }
            }));
            Assert.Contains(StatusCode.ResourceExhausted, burst);
            Assert.All(burst, s => Assert.True(s is StatusCode.OK or StatusCode.ResourceExhausted, $"{s}"));
            var metrics = await _host.Admin.GetStringAsync("/metrics");
            Assert.Matches(@"conrec_filter_overload_rejections_total [1-9]", metrics);
            // A store error on the admin API is a short reason, not the client library's diagnostics.
            var put = await _host.Admin.PutAsJsonAsync("/admin/v1/thresholds/x", new { threshold = 0.5 });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, put.StatusCode);
            var body = await put.Content.ReadAsStringAsync();
            Assert.Contains("store unavailable", body);
            Assert.True(body.Length < 200, body);
            foreach (var leak in new[] { "IOCP", "WORKER", "clientName", "v: ", "127.0.0.1:" }) Assert.DoesNotContain(leak, body);
        }
        finally { _redis.Resume(); }
    }

    [Fact]
    public async Task Tune_reads_with_its_own_budget_and_counts_what_it_cannot_read()
    {
        // A hot-path budget too small to read anything does not touch tuning, which reads with Admin:TuneReadTimeout.
        await using var strict = await ServiceHost.StartAsync(_redis.Endpoint, _prefix, "--Store:ReadTimeout", "00:00:00.010");
        await strict.WaitReadyAsync(_host.State.Current.Generation!.Id);
        var samples = Enumerable.Range(0, 40).Select(i => new { user_id = "u" + (i % 10), item_id = "i" + i, disliked = i % 3 == 0 }).ToArray();
        var response = await strict.Admin.PostAsJsonAsync("/admin/v1/thresholds/t/tune", new { samples, objective = new { max_false_reject_rate = 0.5 } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(40, doc.RootElement.GetProperty("scored").GetInt32());
        Assert.Equal(0, doc.RootElement.GetProperty("skipped").GetProperty("store_unavailable").GetInt32());
        // Samples of unknown users are skipped, not a failure.
        var unknown = Enumerable.Range(0, 30).Select(i => new { user_id = "nobody" + i, item_id = "i1", disliked = true }).ToArray();
        var skipped = await strict.Admin.PostAsJsonAsync("/admin/v1/thresholds/t/tune", new { samples = unknown, objective = new { min_precision = 0.5 } });
        Assert.Equal(HttpStatusCode.OK, skipped.StatusCode);
    }

    [Fact]
    public void The_catalog_cache_is_bounded_in_bytes()
    {
        var cache = new CatalogCache(1 << 20);
        for (int i = 0; i < 100_000; i++) cache.Add(new string('x', 246) + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), (ulong)i);
        Assert.True(cache.Bytes <= cache.CapacityBytes, $"{cache.Bytes} bytes charged, budget {cache.CapacityBytes}");
        Assert.True(cache.Count <= (1 << 20) / CatalogCache.EntryBytes(new string('x', 252)) + 1);
        Assert.True(cache.Count > 1000, $"only {cache.Count} entries kept");
        // Short ids fit many more entries in the same budget.
        var small = new CatalogCache(1 << 20);
        for (int i = 0; i < 100_000; i++) small.Add("i" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), (ulong)i);
        Assert.True(small.Count > 4 * cache.Count);
    }

    [Fact]
    public void An_unsafe_admin_bind_exits_cleanly_with_one_line()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "CoNRec.FilterService.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "--admin-bind", "0.0.0.0", "--redis", _redis.Endpoint }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(1, p.ExitCode); // not 134 (SIGABRT from an unhandled exception)
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Admin:BindAddress '0.0.0.0' is not loopback and no admin token is set", line);
    }
}
