using Microsoft.Extensions.Options;

namespace CoNRec.FilterService;

/// <summary>
/// Bounds FilterCandidates calls in flight. When the replica is saturated a call is refused at once with
/// RESOURCE_EXHAUSTED (the ranking stage keeps every candidate) rather than queued until its store reads time out:
/// overload then reads as overload, not as a store failure.
/// </summary>
public sealed class ConcurrencyGate(IOptions<FilterOptions> options)
{
    private int _inFlight;

    public int Limit { get; } = options.Value.EffectiveMaxConcurrentRequests;
    public int InFlight => Volatile.Read(ref _inFlight);

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _inFlight) <= Limit) return true;
        Interlocked.Decrement(ref _inFlight);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _inFlight);
}

/// <summary>How much of a call's remaining deadline the store may use.</summary>
public static class DeadlineBudget
{
    /// <summary>
    /// Half of what is left: the other half builds and sends the response, and covers scheduling on a busy machine.
    /// (Three quarters left ~2.5 ms at a 10 ms deadline, and a few calls in 30 then missed it while Redis hung.)
    /// </summary>
    public static TimeSpan ForStore(TimeSpan remaining) => remaining <= TimeSpan.Zero ? TimeSpan.Zero : remaining / 2;
}
