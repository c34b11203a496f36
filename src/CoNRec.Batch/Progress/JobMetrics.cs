using CoNRec.Batch.Cli;
using System.Globalization;
using Prometheus;

namespace CoNRec.Batch.Progress;

public sealed class JobMetricsOptions
{
    /// <summary>Pushgateway base URL (e.g. http://pushgateway:9091); null: metrics are only kept in memory.</summary>
    public string? Pushgateway { get; init; }

    /// <summary>Between pushes while the job runs; a final push happens on <see cref="JobMetrics.CompleteAsync"/> anyway.</summary>
    public TimeSpan PushInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>One push may not hold the job's end hostage: HttpClient's default would be 100 s.</summary>
    public TimeSpan PushTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where push failures are reported (stderr); they are never fatal.</summary>
    public TextWriter? Log { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// Prometheus metrics of one shard of the nightly <c>generate</c> job, in a private registry (so tests and several jobs
/// in one process never collide). When a Pushgateway is configured (<c>--pushgateway URL</c> or
/// <c>CONREC_PUSHGATEWAY</c>) they are pushed every <see cref="JobMetricsOptions.PushInterval"/> and once more on
/// completion to <c>{URL}/job/conrec_generate/instance/{shard}</c>. A batch job has no scrape endpoint to be found by,
/// hence the push; a push failure is logged and otherwise ignored, because metrics must never fail a run.
/// </summary>
public sealed class JobMetrics : IAsyncDisposable
{
    public const string JobName = "conrec_generate";
    public const string PushgatewayEnvironmentVariable = "CONREC_PUSHGATEWAY";

    private readonly JobMetricsOptions _options;
    private readonly MetricPusher? _pusher;
    private readonly HttpClient? _http;
    private readonly object _logLock = new();
    private int _pushFailures;
    private bool _completed;

    public JobMetrics(int shardIndex, JobMetricsOptions? options = null)
    {
        if (shardIndex < 0) throw new ArgumentOutOfRangeException(nameof(shardIndex), shardIndex, "must be ≥ 0");
        _options = options ?? new JobMetricsOptions();
        ShardIndex = shardIndex;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        UsersProcessed = factory.CreateCounter("conrec_generate_users_processed_total", "Users whose predictions were generated.");
        UsersSkipped = factory.CreateCounter("conrec_generate_users_skipped_total", "Users read but not generated, by reason.",
            new CounterConfiguration { LabelNames = ["reason"] });
        BadRecords = factory.CreateCounter("conrec_generate_bad_records_total", "Malformed input lines or rows.");
        SidsWritten = factory.CreateCounter("conrec_generate_sids_written_total", "Predicted semantic IDs written to the store.");
        Progress = factory.CreateGauge("conrec_generate_progress_ratio", "Fraction of this shard's users done, 0..1.");
        LastSuccess = factory.CreateGauge("conrec_generate_last_success_timestamp_seconds", "Unix time this shard last completed successfully.");
        BatchLatency = factory.CreateHistogram("conrec_generate_batch_duration_seconds", "Wall time of one model batch (prompt to SIDs).",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.01, 2, 16) }); // 10 ms .. ~5.5 min

        if (_options.Pushgateway is { } url)
        {
            PushUrl = ValidateUrl(url);
            _http = new HttpClient { Timeout = _options.PushTimeout };
            _pusher = new MetricPusher(new MetricPusherOptions
            {
                Endpoint = PushUrl,
                Job = JobName,
                Instance = shardIndex.ToString(CultureInfo.InvariantCulture),
                IntervalMilliseconds = Math.Max(1, (long)_options.PushInterval.TotalMilliseconds),
                Registry = Registry,
                HttpClientProvider = () => _http,
                OnError = OnPushError,
            });
            _pusher.Start();
        }
    }

    public int ShardIndex { get; }
    public CollectorRegistry Registry { get; }
    public string? PushUrl { get; }
    public bool IsPushing => _pusher is not null;

    /// <summary>Push failures so far (each is logged with throttling).</summary>
    public int PushFailures => Volatile.Read(ref _pushFailures);

    public Counter UsersProcessed { get; }
    public Counter UsersSkipped { get; }
    public Counter BadRecords { get; }
    public Counter SidsWritten { get; }
    public Gauge Progress { get; }
    public Gauge LastSuccess { get; }
    public Histogram BatchLatency { get; }

    /// <summary>The <c>--pushgateway</c> value if given, else <c>CONREC_PUSHGATEWAY</c>, else null; blank means unset.</summary>
    public static string? ResolvePushgateway(string? option, Func<string, string?>? environment = null)
    {
        var value = option ?? (environment ?? Environment.GetEnvironmentVariable)(PushgatewayEnvironmentVariable);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    public void UserProcessed(int sids)
    {
        UsersProcessed.Inc();
        if (sids > 0) SidsWritten.Inc(sids);
    }

    public void UserSkipped(string reason, long n = 1) => UsersSkipped.WithLabels(reason).Inc(n);

    public void BadRecord(long n = 1) => BadRecords.Inc(n);

    public void SetProgress(double fraction) => Progress.Set(Math.Clamp(fraction, 0, 1));

    public void ObserveBatch(TimeSpan elapsed) => BatchLatency.Observe(elapsed.TotalSeconds);

    /// <summary>
    /// Ends the job's metrics: on success sets progress to 1 and the last-success time; then stops the periodic pusher,
    /// which pushes the final values once more. Never throws for push problems. Idempotent.
    /// </summary>
    public async Task CompleteAsync(bool success)
    {
        if (_completed) return;
        _completed = true;
        if (success)
        {
            SetProgress(1);
            LastSuccess.Set(_options.Time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
        }
        if (_pusher is not null)
        {
            try { await _pusher.StopAsync(); }
            catch (Exception e) { OnPushError(e); }
        }
        _http?.Dispose();
    }

    /// <summary>The current values in Prometheus text format (what a push sends).</summary>
    public async Task<string> ExportTextAsync(CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(buffer, cancellationToken);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Stops pushing without marking success (a failed job still pushes its final counters).</summary>
    public async ValueTask DisposeAsync() => await CompleteAsync(success: false);

    private void OnPushError(Exception e)
    {
        int n = Interlocked.Increment(ref _pushFailures);
        // The first few failures and then every 20th: a gateway down all night must not bury the job's own log.
        if (_options.Log is not { } log || (n > 3 && n % 20 != 0)) return;
        var inner = e is HttpRequestException or TaskCanceledException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        lock (_logLock) log.WriteLine($"warning: pushgateway push to {PushUrl} failed ({n} so far, not fatal): {inner}");
    }

    private static string ValidateUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new UsageException($"--pushgateway / {PushgatewayEnvironmentVariable} = '{url}' must be an http(s) URL");
        return url.TrimEnd('/');
    }
}
