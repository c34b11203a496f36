using System.Diagnostics;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using StackExchange.Redis;

namespace CoNRec.Store;

public enum BreakerState { Closed = 0, HalfOpen = 1, Open = 2 }

/// <summary>Hook for the host's metrics, so this library stays free of any metrics package.</summary>
public interface IStoreObserver
{
    void Read(string operation, double seconds, bool ok);
    void BreakerChanged(BreakerState state);
}

/// <summary>
/// Hot-path Redis reads behind a Polly v8 pipeline: circuit breaker outside, timeout inside (so timeouts trip the
/// breaker). StackExchange.Redis calls take no CancellationToken, so the timeout is enforced with WaitAsync; the
/// abandoned call finishes in the background. Every failure becomes "unavailable" and the caller fails open.
/// </summary>
public sealed class ResilientReader
{
    private readonly IDatabase _db;
    private readonly IStoreObserver? _observer;
    private readonly ResiliencePipeline _pipeline;

    public BreakerState State { get; private set; } = BreakerState.Closed;

    public ResilientReader(IDatabase db, StoreOptions options, IStoreObserver? observer = null)
    {
        _db = db;
        _observer = observer;
        _pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = options.BreakerFailureRatio,
                MinimumThroughput = options.BreakerMinimumThroughput,
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakerBreakDuration,
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutRejectedException>().Handle<TimeoutException>(),
                OnOpened = _ => SetState(BreakerState.Open),
                OnHalfOpened = _ => SetState(BreakerState.HalfOpen),
                OnClosed = _ => SetState(BreakerState.Closed),
            })
            .AddTimeout(options.ReadTimeout)
            .Build();
        observer?.BreakerChanged(BreakerState.Closed);
    }

    private ValueTask SetState(BreakerState s)
    {
        State = s;
        _observer?.BreakerChanged(s);
        return default;
    }

    /// <summary>HGET; ok=false when the store is unavailable, slow, or the breaker is open.</summary>
    public async ValueTask<(bool Ok, RedisValue Value)> HashGetAsync(RedisKey key, RedisValue field, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var value = await _pipeline.ExecuteAsync(
                static async (s, ct) => await s.db.HashGetAsync(s.key, s.field).WaitAsync(ct),
                (db: _db, key, field), cancellationToken);
            _observer?.Read("hget", Stopwatch.GetElapsedTime(start).TotalSeconds, true);
            return (true, value);
        }
        catch (Exception e) when (IsStoreFailure(e))
        {
            _observer?.Read("hget", Stopwatch.GetElapsedTime(start).TotalSeconds, false);
            return (false, RedisValue.Null);
        }
    }

    /// <summary>
    /// A user's profile (HGET) and their same-day feedback overlay newer than <paramref name="overlayAfter"/> (newest
    /// first, at most <paramref name="overlayMax"/>), in one pipelined round trip. Both keys share a hash slot, so on
    /// a cluster this is one node too. ok=false when the store is unavailable, slow, or the breaker is open.
    /// </summary>
    public async ValueTask<(bool Ok, RedisValue Profile, RedisValue[] Overlay)> ReadProfileAsync(RedisKey profileKey, RedisValue field,
        RedisKey overlayKey, DateTimeOffset overlayAfter, int overlayMax, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var result = await _pipeline.ExecuteAsync(static async (s, ct) =>
            {
                var batch = s.db.CreateBatch();
                var profile = batch.HashGetAsync(s.profileKey, s.field);
                var overlay = batch.SortedSetRangeByScoreAsync(s.overlayKey, s.after, double.PositiveInfinity, Exclude.Start, Order.Descending, 0, s.max);
                batch.Execute();
                await Task.WhenAll(profile, overlay).WaitAsync(ct);
                return (profile.Result, overlay.Result);
            }, (db: _db, profileKey, field, overlayKey, after: (double)overlayAfter.ToUnixTimeMilliseconds(), max: overlayMax), cancellationToken);
            _observer?.Read("profile", Stopwatch.GetElapsedTime(start).TotalSeconds, true);
            return (true, result.Item1, result.Item2);
        }
        catch (Exception e) when (IsStoreFailure(e))
        {
            _observer?.Read("profile", Stopwatch.GetElapsedTime(start).TotalSeconds, false);
            return (false, RedisValue.Null, []);
        }
    }

    /// <summary>Many HGETs in one pipelined round trip; results[i] answers (keys[i], fields[i]).</summary>
    public async ValueTask<bool> HashGetManyAsync(RedisKey[] keys, RedisValue[] fields, RedisValue[] results, int count, CancellationToken cancellationToken)
    {
        if (count == 0) return true;
        long start = Stopwatch.GetTimestamp();
        try
        {
            await _pipeline.ExecuteAsync(static async (s, ct) =>
            {
                var batch = s.db.CreateBatch();
                var tasks = new Task<RedisValue>[s.count];
                for (int i = 0; i < s.count; i++) tasks[i] = batch.HashGetAsync(s.keys[i], s.fields[i]);
                batch.Execute();
                await Task.WhenAll(tasks).WaitAsync(ct);
                for (int i = 0; i < s.count; i++) s.results[i] = tasks[i].Result;
            }, (db: _db, keys, fields, results, count), cancellationToken);
            _observer?.Read("hget_batch", Stopwatch.GetElapsedTime(start).TotalSeconds, true);
            return true;
        }
        catch (Exception e) when (IsStoreFailure(e))
        {
            _observer?.Read("hget_batch", Stopwatch.GetElapsedTime(start).TotalSeconds, false);
            return false;
        }
    }

    public static bool IsStoreFailure(Exception e) =>
        e is RedisException or TimeoutRejectedException or BrokenCircuitException or TimeoutException or OperationCanceledException or ObjectDisposedException;
}
