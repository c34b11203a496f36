using System.Diagnostics;
using System.Globalization;
using CoNRec.Batch.Progress;

namespace CoNRec.Batch.Experiment;

/// <summary>Wall time and peak resident memory of one pipeline stage.</summary>
public sealed record StageTiming(string Stage, TimeSpan Wall, long PeakRssBytes, string Detail);

/// <summary>
/// Runs the pipeline's stages in order, each with its own progress bar on stderr, and records its wall time and peak
/// RSS. The peak is per stage: Linux lets a process reset its own high-water mark (/proc/self/clear_refs, "5"), so a
/// late stage's figure is not just the earlier maximum; where that is refused the figure is the process peak so far.
/// </summary>
public sealed class StageRunner(TextWriter log, bool? terminal = null)
{
    private readonly List<StageTiming> _timings = [];

    public IReadOnlyList<StageTiming> Timings => _timings;

    public T Run<T>(string name, Func<StageContext, T> body)
    {
        ResetPeak();
        var sw = Stopwatch.StartNew();
        var context = new StageContext(name, log, terminal);
        log.WriteLine($"== {name}");
        T result;
        try { result = body(context); }
        finally { context.Dispose(); }
        Record(name, sw.Elapsed, context);
        return result;
    }

    public async Task<T> RunAsync<T>(string name, Func<StageContext, Task<T>> body)
    {
        ResetPeak();
        var sw = Stopwatch.StartNew();
        var context = new StageContext(name, log, terminal);
        log.WriteLine($"== {name}");
        T result;
        try { result = await body(context).ConfigureAwait(false); }
        finally { context.Dispose(); }
        Record(name, sw.Elapsed, context);
        return result;
    }

    private void Record(string name, TimeSpan wall, StageContext context)
    {
        var timing = new StageTiming(name, wall, PeakRss(), context.Detail ?? "");
        _timings.Add(timing);
        log.WriteLine($"== {name}: {timing.Wall.TotalSeconds:F1} s, peak RSS {timing.PeakRssBytes / (1 << 20)} MiB{(timing.Detail.Length > 0 ? $", {timing.Detail}" : "")}");
    }

    public string FormatTable()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"stage",-14} {"wall",9} {"peak RSS",10}  detail");
        foreach (var t in _timings)
            sb.AppendLine(CultureInfo.InvariantCulture, $"{t.Stage,-14} {t.Wall.TotalSeconds,8:F1}s {t.PeakRssBytes / (1 << 20),6} MiB  {t.Detail}");
        return sb.ToString();
    }

    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException) { }
    }

    /// <summary>VmHWM from /proc/self/status (kB), else the runtime's process peak.</summary>
    public static long PeakRss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("VmHWM:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        using var p = Process.GetCurrentProcess();
        return p.PeakWorkingSet64;
    }
}

/// <summary>What a stage body gets: a lazily created progress bar (the total is often known only inside) and a detail line.</summary>
public sealed class StageContext(string name, TextWriter log, bool? terminal) : IDisposable
{
    private ProgressReporter? _bar;

    public string? Detail { get; set; }

    public TextWriter Log => log;

    /// <summary>Starts (or restarts) this stage's bar with a known total.</summary>
    public ProgressReporter Bar(long? total, string unit)
    {
        _bar?.Complete();
        _bar?.Dispose();
        _bar = new ProgressReporter(total, log, new ProgressOptions { Label = name, Unit = unit, IsTerminal = terminal, LogInterval = TimeSpan.FromSeconds(15) });
        return _bar;
    }

    /// <summary>A synchronous progress sink (System.Progress posts to the thread pool, which would reorder updates).</summary>
    public IProgress<long> Counter(long? total, string unit) => new DoneCounter(Bar(total, unit));

    private sealed class DoneCounter(ProgressReporter bar) : IProgress<long>
    {
        private long _last;

        public void Report(long done)
        {
            long delta = done - Interlocked.Exchange(ref _last, done);
            if (delta > 0) bar.Advance(delta);
        }
    }

    public void Dispose()
    {
        _bar?.Complete();
        _bar?.Dispose();
    }
}
