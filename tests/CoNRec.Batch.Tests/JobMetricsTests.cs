using CoNRec.Batch.Cli;
using System.Net;
using CoNRec.Batch.Progress;
using Xunit;

namespace CoNRec.Batch.Tests;

/// <summary>A stand-in Pushgateway: a loopback HttpListener that records every request and answers 200.</summary>
public sealed class RecordingPushgateway : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<(string Method, string Path, string Body)> _requests = [];
    private readonly Task _loop;

    public RecordingPushgateway()
    {
        Port = CoNRec.Testing.FreePort.Next(); // below the ephemeral range: no outgoing connection can hold it
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";

    public IReadOnlyList<(string Method, string Path, string Body)> Requests { get { lock (_requests) return [.. _requests]; } }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            using (var reader = new StreamReader(context.Request.InputStream))
            {
                var body = await reader.ReadToEndAsync();
                lock (_requests) _requests.Add((context.Request.HttpMethod, context.Request.Url!.AbsolutePath, body));
            }
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}

public sealed class JobMetricsTests
{
    private static double Value(string exposition, string series)
    {
        var line = exposition.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Pushes_the_counters_to_the_pushgateway_under_job_and_shard_instance_with_a_final_push()
    {
        using var gateway = new RecordingPushgateway();
        var log = new StringWriter();
        var time = new FakeTime();
        var metrics = new JobMetrics(3, new JobMetricsOptions { Pushgateway = gateway.Url + "/", PushInterval = TimeSpan.FromHours(1), Log = log, Time = time });
        Assert.True(metrics.IsPushing);
        for (int i = 0; i < 5; i++) metrics.UserProcessed(sids: 20);
        metrics.UserSkipped("empty_history", 2);
        metrics.UserSkipped("too_long");
        metrics.BadRecord(4);
        metrics.ObserveBatch(TimeSpan.FromMilliseconds(500));
        metrics.SetProgress(0.5);

        await metrics.CompleteAsync(success: true);

        var requests = gateway.Requests;
        Assert.NotEmpty(requests);
        var (method, path, body) = requests[^1]; // the final push, after the job's last numbers
        Assert.Equal("POST", method);
        Assert.Equal("/job/conrec_generate/instance/3", path);
        Assert.Equal(5, Value(body, "conrec_generate_users_processed_total"));
        Assert.Equal(100, Value(body, "conrec_generate_sids_written_total"));
        Assert.Equal(2, Value(body, "conrec_generate_users_skipped_total{reason=\"empty_history\"}"));
        Assert.Equal(1, Value(body, "conrec_generate_users_skipped_total{reason=\"too_long\"}"));
        Assert.Equal(4, Value(body, "conrec_generate_bad_records_total"));
        Assert.Equal(1, Value(body, "conrec_generate_progress_ratio")); // success sets it to done
        Assert.Equal(time.GetUtcNow().ToUnixTimeSeconds(), Value(body, "conrec_generate_last_success_timestamp_seconds"));
        Assert.Equal(1, Value(body, "conrec_generate_batch_duration_seconds_count"));
        Assert.Equal(0.5, Value(body, "conrec_generate_batch_duration_seconds_sum"));
        Assert.Equal("", log.ToString());
    }

    [Fact]
    public async Task A_failed_job_pushes_its_counters_without_a_success_time()
    {
        using var gateway = new RecordingPushgateway();
        await using (var metrics = new JobMetrics(0, new JobMetricsOptions { Pushgateway = gateway.Url, PushInterval = TimeSpan.FromHours(1) }))
        {
            metrics.UserProcessed(3);
            metrics.SetProgress(0.25);
        } // DisposeAsync = CompleteAsync(success: false)
        var body = gateway.Requests[^1].Body;
        Assert.Equal(1, Value(body, "conrec_generate_users_processed_total"));
        Assert.Equal(0.25, Value(body, "conrec_generate_progress_ratio"));
        Assert.Equal(0, Value(body, "conrec_generate_last_success_timestamp_seconds"));
        Assert.Equal("/job/conrec_generate/instance/0", gateway.Requests[^1].Path);
    }

    [Fact]
    public async Task Push_failures_are_logged_and_never_fatal()
    {
        var log = new StringWriter();
        var url = $"http://127.0.0.1:{CoNRec.Testing.FreePort.Next()}"; // nothing listens there
        var metrics = new JobMetrics(1, new JobMetricsOptions { Pushgateway = url, PushInterval = TimeSpan.FromHours(1), Log = TextWriter.Synchronized(log) });
        metrics.UserProcessed(1);
        await metrics.CompleteAsync(success: true); // does not throw
        // The library reports failures on a pool thread; give it a moment.
        for (int i = 0; i < 100 && !log.ToString().Contains("pushgateway push", StringComparison.Ordinal); i++) await Task.Delay(50);
        Assert.Contains($"warning: pushgateway push to {url} failed", log.ToString());
        Assert.Contains("not fatal", log.ToString());
        Assert.True(metrics.PushFailures >= 1);
        Assert.Equal(1, Value(await metrics.ExportTextAsync(), "conrec_generate_users_processed_total"));
    }

    [Fact]
    public async Task Without_a_pushgateway_metrics_stay_in_memory_and_registries_do_not_collide()
    {
        await using var a = new JobMetrics(0);
        await using var b = new JobMetrics(1);
        a.UserProcessed(2);
        Assert.False(a.IsPushing);
        Assert.Equal(1, Value(await a.ExportTextAsync(), "conrec_generate_users_processed_total"));
        Assert.Equal(0, Value(await b.ExportTextAsync(), "conrec_generate_users_processed_total"));
    }

    [Fact]
    public void Pushgateway_comes_from_the_option_then_the_environment_and_must_be_http()
    {
        Func<string, string?> env = name => name == "CONREC_PUSHGATEWAY" ? "http://gw:9091" : null;
        Assert.Equal("http://cli:9091", JobMetrics.ResolvePushgateway("http://cli:9091", env));
        Assert.Equal("http://gw:9091", JobMetrics.ResolvePushgateway(null, env));
        Assert.Null(JobMetrics.ResolvePushgateway(null, _ => "  "));
        var e = Assert.Throws<UsageException>(() => new JobMetrics(0, new JobMetricsOptions { Pushgateway = "gw:9091" }));
        Assert.Contains("must be an http(s) URL", e.Message);
    }
}
