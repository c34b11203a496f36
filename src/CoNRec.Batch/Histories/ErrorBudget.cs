using System.Globalization;

namespace CoNRec.Batch.Histories;

/// <summary>
/// How many bad input records a job tolerates before it must fail without publishing. Limits are a count, a fraction of
/// the records read, or both (both must hold). With neither, no bad record is tolerated: a silently shrinking
/// input would otherwise publish predictions for fewer users without anyone noticing. Thread-safe.
/// </summary>
public sealed class ErrorBudget
{
    /// <summary>Messages kept for the log; the rest are only counted, so a wholly broken file cannot flood stderr or memory.</summary>
    public const int KeptMessages = 20;

    private readonly object _lock = new();
    private readonly List<string> _messages = [];
    private long _good, _bad;

    /// <param name="maxCount">Most bad records allowed; null for no count limit.</param>
    /// <param name="maxFraction">Most bad records as a fraction in [0, 1] of all records read; null for no fraction limit.</param>
    public ErrorBudget(long? maxCount = null, double? maxFraction = null)
    {
        if (maxCount < 0) throw new ArgumentOutOfRangeException(nameof(maxCount), maxCount, "must be ≥ 0");
        if (maxFraction is { } f && !(f >= 0 && f <= 1)) throw new ArgumentOutOfRangeException(nameof(maxFraction), maxFraction, "must lie in [0, 1]");
        MaxCount = maxCount ?? (maxFraction is null ? 0 : null);
        MaxFraction = maxFraction;
    }

    public long? MaxCount { get; }
    public double? MaxFraction { get; }

    public long Good { get { lock (_lock) return _good; } }
    public long Bad { get { lock (_lock) return _bad; } }
    public long Total { get { lock (_lock) return _good + _bad; } }

    /// <summary>The first <see cref="KeptMessages"/> error messages, in the order recorded.</summary>
    public IReadOnlyList<string> Messages { get { lock (_lock) return [.. _messages]; } }

    /// <summary>Counts one record; a bad one keeps its message (while fewer than <see cref="KeptMessages"/> are kept).</summary>
    public void Record(HistoryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.IsValid) RecordGood();
        else RecordBad(record.Message);
    }

    public void RecordGood(long n = 1)
    {
        lock (_lock) _good += n;
    }

    /// <summary>Counts bad records that have no line of their own (e.g. a user the model rejected), or one with its message.</summary>
    public void RecordBad(string? message, long n = 1)
    {
        lock (_lock)
        {
            _bad += n;
            if (message is not null && _messages.Count < KeptMessages) _messages.Add(message);
        }
    }

    /// <summary>
    /// True when the records so far break a limit. A fraction is judged over the records read so far, so early in a
    /// run one bad record can look like a large fraction: use <see cref="ShouldAbort"/> to stop early, this at the end.
    /// </summary>
    public bool IsExceeded { get { lock (_lock) return ExceededLocked(); } }

    /// <summary>
    /// True when the budget can no longer be met whatever follows: the count limit is broken, or, with the total known,
    /// the bad records already exceed the fraction of <paramref name="expectedTotal"/>. Lets a job stop reading a broken file early.
    /// </summary>
    public bool ShouldAbort(long? expectedTotal = null)
    {
        lock (_lock)
        {
            if (_bad > MaxCount) return true;
            return MaxFraction is { } f && expectedTotal is { } total && _bad > f * Math.Max(total, _good + _bad);
        }
    }

    private bool ExceededLocked()
    {
        if (_bad > MaxCount) return true;
        long total = _good + _bad;
        return MaxFraction is { } f && total > 0 && _bad > f * total;
    }

    /// <summary>Throws <see cref="ErrorBudgetExceededException"/> (with the kept messages) when <see cref="IsExceeded"/>.</summary>
    public void ThrowIfExceeded(string what = "input")
    {
        lock (_lock)
            if (ExceededLocked()) throw new ErrorBudgetExceededException($"{what}: {SummaryLocked()}", [.. _messages]);
    }

    /// <summary>One line for the log, e.g. "3 bad records of 1,000 (0.30%); allowed: at most 10 and 1%".</summary>
    public string Summary() { lock (_lock) return SummaryLocked(); }

    private string SummaryLocked()
    {
        long total = _good + _bad;
        var share = total == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $" ({100.0 * _bad / total:0.00}%)");
        return string.Create(CultureInfo.InvariantCulture, $"{_bad:N0} bad records of {total:N0}{share}; allowed: {Describe()}");
    }

    /// <summary>The limits in words, e.g. "at most 10 and 1%".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (MaxCount is { } c) parts.Add(c == 0 && MaxFraction is null ? "none" : string.Create(CultureInfo.InvariantCulture, $"at most {c:N0}"));
        if (MaxFraction is { } f) parts.Add(string.Create(CultureInfo.InvariantCulture, $"{(parts.Count == 0 ? "at most " : "")}{f:0.####%}"));
        return string.Join(" and ", parts);
    }
}

/// <summary>Too many bad input records: the job must fail and must not publish. Carries the first messages for the log.</summary>
public sealed class ErrorBudgetExceededException(string message, IReadOnlyList<string> firstErrors) : FormatException(message)
{
    public IReadOnlyList<string> FirstErrors { get; } = firstErrors;
}
