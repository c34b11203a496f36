using System.Globalization;
using System.Text;

namespace CoNRec.Batch.Progress;

public sealed class ProgressOptions
{
    /// <summary>Prefix of every line, normally the command.</summary>
    public string Label { get; init; } = "generate";

    /// <summary>What is counted, plural.</summary>
    public string Unit { get; init; } = "users";

    /// <summary>Redraw one line in place (true) or print log lines (false); null asks whether stderr is a terminal.</summary>
    public bool? IsTerminal { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Between log lines when the output is not a terminal (a file or a log collector).</summary>
    public TimeSpan LogInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Between redraws on a terminal: often enough to look alive, rare enough not to cost anything.</summary>
    public TimeSpan RedrawInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Time constant of the rate's exponential smoothing: long enough to ride out batch jitter, short enough to follow real changes.</summary>
    public TimeSpan RateSmoothing { get; init; } = TimeSpan.FromSeconds(10);

    public int BarWidth { get; init; } = 24;
}

/// <summary>
/// Progress of a long job on stderr: on a terminal a single line redrawn with '\r' (bar, count, rate, ETA) at most every
/// <see cref="ProgressOptions.RedrawInterval"/>; otherwise a plain line every <see cref="ProgressOptions.LogInterval"/>,
/// e.g. <c>generate: 12,345/100,000 users (12.3%) 410 users/s, eta 3m34s</c>. A timer keeps lines coming while nothing
/// advances, so a stalled job is visible. <see cref="Advance"/> is thread-safe and cheap between redraws.
/// </summary>
public sealed class ProgressReporter : IDisposable
{
    private readonly TextWriter _output;
    private readonly ProgressOptions _options;
    private readonly TimeProvider _time;
    private readonly bool _terminal;
    private readonly TimeSpan _interval;
    private readonly long _start;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    private long _count;
    private long _nextDrawTicks; // elapsed ticks before which Advance does not even take the lock
    private TimeSpan _sampleAt;
    private long _sampleCount;
    private double? _rate;
    private int _lastWidth;
    private bool _completed;

    /// <param name="total">Expected count, or null when unknown (no bar, no ETA).</param>
    public ProgressReporter(long? total, TextWriter output, ProgressOptions? options = null)
    {
        if (total < 0) throw new ArgumentOutOfRangeException(nameof(total), total, "must be ≥ 0");
        _output = output ?? throw new ArgumentNullException(nameof(output));
        _options = options ?? new ProgressOptions();
        _time = _options.Time;
        _terminal = _options.IsTerminal ?? !Console.IsErrorRedirected;
        _interval = _terminal ? _options.RedrawInterval : _options.LogInterval;
        if (_interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "intervals must be positive");
        Total = total;
        _start = _time.GetTimestamp();
        _nextDrawTicks = _interval.Ticks;
        var tick = _terminal ? _interval : TimeSpan.FromTicks(Math.Min(_interval.Ticks, TimeSpan.TicksPerSecond));
        _timer = _time.CreateTimer(_ => MaybeDraw(), null, tick, tick);
    }

    public long? Total { get; }

    public long Count => Interlocked.Read(ref _count);

    /// <summary>Count / total in [0, 1], or null when the total is unknown.</summary>
    public double? Fraction => Total is { } t ? t == 0 ? 1 : Math.Clamp((double)Count / t, 0, 1) : null;

    /// <summary>Smoothed items per second, or null before the first sample.</summary>
    public double? Rate { get { lock (_lock) return _rate; } }

    public bool IsTerminal => _terminal;

    public void Advance(long n = 1)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be ≥ 0");
        Interlocked.Add(ref _count, n);
        if (Elapsed().Ticks >= Interlocked.Read(ref _nextDrawTicks)) MaybeDraw();
    }

    /// <summary>Draws the final state and a summary line, e.g. <c>generate: done, 100,000 users in 4m03s (411 users/s)</c>. Idempotent.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_completed) return;
            _completed = true;
            _timer.Dispose();
            var elapsed = Elapsed();
            long count = Count;
            if (_terminal)
            {
                Sample(elapsed, count);
                Write(TerminalLine(count));
                _output.WriteLine();
            }
            var average = elapsed > TimeSpan.Zero ? count / elapsed.TotalSeconds : 0;
            var of = Total is { } t && t != count ? $"/{N(t)}" : "";
            _output.WriteLine($"{_options.Label}: done, {N(count)}{of} {_options.Unit} in {Duration(elapsed)} ({N(average)} {_options.Unit}/s)");
            _output.Flush();
        }
    }

    /// <summary>Stops the timer without a summary (e.g. the job failed and reports that itself).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_completed) return;
            _completed = true;
            _timer.Dispose();
            if (_terminal && _lastWidth > 0) { _output.WriteLine(); _output.Flush(); }
        }
    }

    private TimeSpan Elapsed() => _time.GetElapsedTime(_start);

    private void MaybeDraw()
    {
        lock (_lock)
        {
            if (_completed) return;
            var now = Elapsed();
            if (now.Ticks < _nextDrawTicks) return;
            Interlocked.Exchange(ref _nextDrawTicks, now.Ticks + _interval.Ticks);
            long count = Count;
            Sample(now, count);
            if (_terminal) Write(TerminalLine(count));
            else _output.WriteLine(LogLine(count));
            _output.Flush();
        }
    }

    private void Sample(TimeSpan now, long count)
    {
        double dt = (now - _sampleAt).TotalSeconds;
        if (dt <= 0) return;
        double instant = (count - _sampleCount) / dt;
        // Exponential smoothing weighted by elapsed time, so irregular sampling (timer vs Advance) does not bias it.
        double alpha = 1 - Math.Exp(-dt / _options.RateSmoothing.TotalSeconds);
        _rate = _rate is { } r ? r + alpha * (instant - r) : instant;
        _sampleAt = now;
        _sampleCount = count;
    }

    /// <summary><c>generate: 12,345/100,000 users (12.3%) 410 users/s, eta 3m34s</c>.</summary>
    private string LogLine(long count)
    {
        var sb = new StringBuilder($"{_options.Label}: {N(count)}");
        if (Total is { } t) sb.Append(CultureInfo.InvariantCulture, $"/{N(t)} {_options.Unit} ({Percent(count, t)})");
        else sb.Append(' ').Append(_options.Unit);
        sb.Append(CultureInfo.InvariantCulture, $" {N(_rate ?? 0)} {_options.Unit}/s");
        if (Eta(count) is { } eta) sb.Append(", eta ").Append(eta);
        return sb.ToString();
    }

    /// <summary><c>generate [######------] 12,345/100,000 users 12.3% 410 users/s eta 3m34s</c>.</summary>
    private string TerminalLine(long count)
    {
        var sb = new StringBuilder(_options.Label);
        if (Total is { } t)
        {
            int filled = t == 0 ? _options.BarWidth : (int)(Math.Clamp((double)count / t, 0, 1) * _options.BarWidth);
            sb.Append(" [").Append('#', filled).Append('-', _options.BarWidth - filled).Append("] ");
            sb.Append(CultureInfo.InvariantCulture, $"{N(count)}/{N(t)} {_options.Unit} {Percent(count, t)}");
        }
        else sb.Append(CultureInfo.InvariantCulture, $" {N(count)} {_options.Unit}");
        sb.Append(CultureInfo.InvariantCulture, $" {N(_rate ?? 0)} {_options.Unit}/s");
        if (Eta(count) is { } eta) sb.Append(" eta ").Append(eta);
        return sb.ToString();
    }

    private string? Eta(long count)
    {
        if (Total is not { } t || _rate is not { } rate || rate <= 0 || count >= t) return null;
        double seconds = (t - count) / rate;
        return seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : Duration(TimeSpan.FromSeconds(seconds));
    }

    /// <summary>Overwrites the current terminal line, blanking what a longer previous line left behind.</summary>
    private void Write(string line)
    {
        int pad = Math.Max(0, _lastWidth - line.Length);
        _output.Write('\r');
        _output.Write(line);
        if (pad > 0) _output.Write(new string(' ', pad));
        _lastWidth = line.Length;
    }

    private static string N(double value) => Math.Round(value).ToString("N0", CultureInfo.InvariantCulture);

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Percent(long count, long total) =>
        (total == 0 ? 100 : Math.Clamp(100.0 * count / total, 0, 100)).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary>45s, 3m34s, 1h02m, 2d03h: two units are all anyone reads in an ETA.</summary>
    public static string Duration(TimeSpan t)
    {
        long s = (long)Math.Round(t.TotalSeconds);
        if (s < 60) return $"{s}s";
        if (s < 3600) return $"{s / 60}m{s % 60:00}s";
        if (s < 86400) return $"{s / 3600}h{s % 3600 / 60:00}m";
        return $"{s / 86400}d{s % 86400 / 3600:00}h";
    }
}
