using CoNRec.Core;
using CoNRec.Store;
using Prometheus;

namespace CoNRec.FilterService;

/// <summary>
/// Prometheus metrics. Label children are resolved once up front: WithLabels on the hot path would allocate and hash.
/// </summary>
public sealed class FilterMetrics : IStoreObserver
{
    private static readonly double[] LatencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private static readonly Histogram RequestDuration = Metrics.CreateHistogram("conrec_filter_request_duration_seconds",
        "FilterCandidates handling time, from request parsed to response built.", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["outcome"] });
    private static readonly Counter Decisions = Metrics.CreateCounter("conrec_filter_decisions_total",
        "Candidate decisions by reason and mode.", "reason", "mode", "rejected");
    private static readonly Histogram RejectRatio = Metrics.CreateHistogram("conrec_filter_request_reject_ratio",
        "Per request: share of candidates rejected (or would be, in shadow mode).", new HistogramConfiguration { Buckets = [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1], LabelNames = ["mode"] });
    private static readonly Histogram StoreLatency = Metrics.CreateHistogram("conrec_store_operation_duration_seconds",
        "Hot-path Redis reads, including time spent waiting on the timeout.", new HistogramConfiguration { Buckets = LatencyBuckets, LabelNames = ["operation", "outcome"] });
    private static readonly Gauge Breaker = Metrics.CreateGauge("conrec_store_circuit_state", "Redis read circuit breaker: 0 closed, 1 half-open, 2 open.");
    private static readonly Gauge ActiveGeneration = Metrics.CreateGauge("conrec_active_generation_info", "1 for the generation this replica serves.", "generation", "codebook");
    private static readonly Counter StateRefreshes = Metrics.CreateCounter("conrec_state_refresh_total", "Control-plane refreshes.", "outcome");
    private static readonly Counter Overload = Metrics.CreateCounter("conrec_filter_overload_rejections_total",
        "FilterCandidates calls refused with RESOURCE_EXHAUSTED because Filter:MaxConcurrentRequests were in flight.");
    private static readonly Counter Feedback = Metrics.CreateCounter("conrec_feedback_total",
        "RecordFeedback calls by kind and outcome (recorded, invalid, unknown_item, store_unavailable, no_generation).", "kind", "outcome");

    private readonly Counter.Child[,,] _decisions = new Counter.Child[6, 4, 2];
    private readonly Histogram.Child[] _ratio = new Histogram.Child[4];
    private readonly Histogram.Child _ok = RequestDuration.WithLabels("ok");
    private readonly Histogram.Child _invalid = RequestDuration.WithLabels("invalid");
    private static readonly string[] StoreOperations = ["hget", "hget_batch", "profile"];
    private readonly Histogram.Child[] _store = [.. StoreOperations.SelectMany(op => new[] { StoreLatency.WithLabels(op, "ok"), StoreLatency.WithLabels(op, "unavailable") })];

    public FilterMetrics()
    {
        foreach (DecisionReason r in Enum.GetValues<DecisionReason>())
            foreach (FilterMode m in Enum.GetValues<FilterMode>())
                for (int rej = 0; rej < 2; rej++)
                    _decisions[(int)r, (int)m, rej] = Decisions.WithLabels(r.ToString(), SceneSettings.ModeName(m), rej == 1 ? "true" : "false");
        foreach (FilterMode m in Enum.GetValues<FilterMode>()) _ratio[(int)m] = RejectRatio.WithLabels(SceneSettings.ModeName(m));
    }

    public void Request(double seconds, bool valid) => (valid ? _ok : _invalid).Observe(seconds);

    public void Decision(DecisionReason reason, FilterMode mode, bool rejected, int count = 1) => _decisions[(int)reason, (int)mode, rejected ? 1 : 0].Inc(count);

    public void Ratio(FilterMode mode, double ratio) => _ratio[(int)mode].Observe(ratio);

    public void Read(string operation, double seconds, bool ok)
    {
        int i = 2 * Math.Max(0, Array.IndexOf(StoreOperations, operation));
        _store[i + (ok ? 0 : 1)].Observe(seconds);
    }

    public void Overloaded() => Overload.Inc();

    private static readonly Counter WarmUpCalls = Metrics.CreateCounter("conrec_filter_warmup_calls_total",
        "Self-calls through the gRPC port before /readyz (scene _warmup); kept out of the request and decision metrics.");

    public void WarmUpCall() => WarmUpCalls.Inc();

    public void FeedbackCall(string kind, string outcome) => Feedback.WithLabels(kind, outcome).Inc();

    /// <summary>This replica's recent calls, kept in-process for the console's health view (no Prometheus server needed).</summary>
    public RecentRequests Recent { get; } = new();

    private volatile int _breakerState;

    /// <summary>The hot-path read breaker's state, as last reported.</summary>
    public BreakerState BreakerState => (BreakerState)_breakerState;

    public void BreakerChanged(BreakerState state)
    {
        _breakerState = (int)state;
        Breaker.Set((int)state);
    }

    public void Refresh(bool ok) => StateRefreshes.WithLabels(ok ? "ok" : "failed").Inc();

    public void Generation(string? previousId, string? previousHash, string id, string hash)
    {
        if (previousId is not null) ActiveGeneration.RemoveLabelled(previousId, previousHash!);
        ActiveGeneration.WithLabels(id, hash).Set(1);
    }
}
