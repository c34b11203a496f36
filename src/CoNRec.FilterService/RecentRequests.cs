using System.Collections.Concurrent;
using System.Diagnostics;
using CoNRec.Core;

namespace CoNRec.FilterService;

/// <summary>
/// This replica's own recent FilterCandidates traffic, for the console's health view without a Prometheus server: a
/// ring of one-second buckets (calls, a log-scale latency histogram, candidates and would-rejects per scene, fail-open
/// decisions per reason). The hot path only increments counters in the current second's bucket: no lock, no
/// allocation (a scene seen for the first time takes a slot once). Readers sum the last <see cref="WindowSeconds"/>
/// complete seconds, so the bucket being written is never read.
/// <para>Figures are a dashboard's, not an audit's: an increment that races the once-a-second reset of a bucket is
/// dropped, which can lose a handful of calls per second under load.</para>
/// </summary>
public sealed class RecentRequests
{
    public const int WindowSeconds = 10;
    /// <summary>Distinct scenes tracked; later ones are summed under <see cref="OtherScene"/> (scene names come from callers).</summary>
    public const int MaxScenes = 64;
    public const string OtherScene = "(other)";

    private const int Slots = WindowSeconds + 2; // the window, the second being written, and one being reset
    private const int LatencyBins = 64;
    private const double FirstBinSeconds = 10e-6; // bin 0: ≤ 10 µs; bin i: ≤ 10 µs · 2^(i/3), so 26% wide; bin 63 ≈ 26 s
    private const long Resetting = long.MinValue;
    private static readonly int ReasonCount = Enum.GetValues<DecisionReason>().Max(r => (int)r) + 1;

    private readonly Bucket[] _buckets = new Bucket[Slots];
    private readonly ConcurrentDictionary<string, int> _sceneSlots = new(StringComparer.Ordinal);
    private readonly string[] _sceneNames = new string[MaxScenes];
    private readonly Lock _sceneLock = new();
    private volatile int _sceneCount;
    private readonly Func<long> _clock;

    /// <param name="clock">Whole seconds on a monotonic clock; tests pass their own.</param>
    public RecentRequests(Func<long>? clock = null)
    {
        _clock = clock ?? (static () => Stopwatch.GetTimestamp() / Stopwatch.Frequency);
        for (int i = 0; i < Slots; i++) _buckets[i] = new Bucket();
        _sceneNames[MaxScenes - 1] = OtherScene;
    }

    private sealed class Bucket
    {
        public long Second = -1;
        public long Calls;
        public readonly long[] Latency = new long[LatencyBins];
        public readonly long[] Candidates = new long[MaxScenes];
        public readonly long[] WouldReject = new long[MaxScenes];
        public readonly long[] Reasons = new long[ReasonCount];

        public void Clear()
        {
            Calls = 0;
            Array.Clear(Latency);
            Array.Clear(Candidates);
            Array.Clear(WouldReject);
            Array.Clear(Reasons);
        }
    }

    /// <summary>
    /// One answered call. <paramref name="reasonCounts"/> is indexed (reason × 2 + rejected), as the service counts them.
    /// </summary>
    public void Record(string scene, double seconds, int candidates, int wouldReject, ReadOnlySpan<int> reasonCounts)
    {
        long now = _clock();
        var b = _buckets[(int)(now % Slots)];
        long seen = Volatile.Read(ref b.Second);
        if (seen != now)
        {
            // The first writer of a new second clears the bucket, then opens it; others drop their call meanwhile.
            if (seen == Resetting || seen > now || Interlocked.CompareExchange(ref b.Second, Resetting, seen) != seen) return;
            b.Clear();
            Volatile.Write(ref b.Second, now);
        }
        int slot = SceneSlot(scene);
        Interlocked.Increment(ref b.Calls);
        Interlocked.Increment(ref b.Latency[LatencyBin(seconds)]);
        if (candidates > 0)
        {
            Interlocked.Add(ref b.Candidates[slot], candidates);
            if (wouldReject > 0) Interlocked.Add(ref b.WouldReject[slot], wouldReject);
        }
        for (int k = 0; k < reasonCounts.Length; k++)
        {
            int reason = k / 2;
            if (reasonCounts[k] > 0 && reason < ReasonCount) Interlocked.Add(ref b.Reasons[reason], reasonCounts[k]);
        }
    }

    internal static int LatencyBin(double seconds)
    {
        if (!(seconds > FirstBinSeconds)) return 0;
        double bin = Math.Ceiling(Math.Log2(seconds / FirstBinSeconds) * 3);
        return bin >= LatencyBins - 1 ? LatencyBins - 1 : (int)bin;
    }

    /// <summary>The upper bound of a latency bin, in seconds.</summary>
    internal static double BinUpperBound(int bin) => FirstBinSeconds * Math.Pow(2, bin / 3.0);

    private int SceneSlot(string scene)
    {
        if (_sceneSlots.TryGetValue(scene, out int slot)) return slot;
        if (_sceneCount >= MaxScenes - 1) return MaxScenes - 1;
        lock (_sceneLock)
        {
            if (_sceneSlots.TryGetValue(scene, out slot)) return slot;
            if (_sceneCount >= MaxScenes - 1) return MaxScenes - 1;
            slot = _sceneCount;
            _sceneNames[slot] = scene;
            _sceneSlots[scene] = slot;
            _sceneCount = slot + 1;
            return slot;
        }
    }

    /// <summary>What the window holds: the last <see cref="WindowSeconds"/> complete seconds.</summary>
    public RecentSummary Summarize()
    {
        long now = _clock();
        long calls = 0;
        var latency = new long[LatencyBins];
        var candidates = new long[MaxScenes];
        var wouldReject = new long[MaxScenes];
        var reasons = new long[ReasonCount];
        for (long s = now - WindowSeconds; s < now; s++)
        {
            if (s < 0) continue;
            var b = _buckets[(int)(s % Slots)];
            if (Volatile.Read(ref b.Second) != s) continue;
            calls += Volatile.Read(ref b.Calls);
            for (int i = 0; i < LatencyBins; i++) latency[i] += Volatile.Read(ref b.Latency[i]);
            for (int i = 0; i < MaxScenes; i++)
            {
                candidates[i] += Volatile.Read(ref b.Candidates[i]);
                wouldReject[i] += Volatile.Read(ref b.WouldReject[i]);
            }
            for (int i = 0; i < ReasonCount; i++) reasons[i] += Volatile.Read(ref b.Reasons[i]);
        }

        double? p99 = null;
        long latencyTotal = latency.Sum();
        if (latencyTotal > 0)
        {
            long rank = (long)Math.Ceiling(latencyTotal * 0.99), seen = 0;
            for (int i = 0; i < LatencyBins; i++)
            {
                seen += latency[i];
                if (seen >= rank) { p99 = BinUpperBound(i) * 1000; break; }
            }
        }

        var rejectRatio = new SortedDictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < MaxScenes; i++)
        {
            if (candidates[i] > 0 && _sceneNames[i] is { } name) rejectRatio[name] = (double)wouldReject[i] / candidates[i];
        }
        // Fail-open: decisions that kept a candidate because it could not be scored (never "off", which is chosen).
        var failOpen = new SortedDictionary<string, double>(StringComparer.Ordinal)
        {
            ["no_predictions"] = (double)reasons[(int)DecisionReason.NoPredictions] / WindowSeconds,
            ["unknown_item"] = (double)reasons[(int)DecisionReason.UnknownItem] / WindowSeconds,
            ["store_unavailable"] = (double)reasons[(int)DecisionReason.StoreUnavailable] / WindowSeconds,
        };
        return new RecentSummary(WindowSeconds, calls, (double)calls / WindowSeconds, p99, rejectRatio, failOpen);
    }
}

/// <param name="P99Ms">The upper bound of the histogram bin holding the 99th percentile (bins are 26% wide); null without calls.</param>
public sealed record RecentSummary(int WindowS, long Calls, double RequestsPerS, double? P99Ms,
    IReadOnlyDictionary<string, double> RejectRatioByScene, IReadOnlyDictionary<string, double> FailOpenByReason);
