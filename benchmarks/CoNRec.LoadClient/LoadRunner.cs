using System.CommandLine;
using CoNRec.Batch.Cli;
using System.Diagnostics;
using System.Globalization;
using CoNRec.Core;
using CoNRec.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace CoNRec.LoadClient;

public enum SidMode { Catalog, Explicit }

public sealed record LoadOptions(
    Uri Target, int Connections, int Concurrency, double Rps, double DurationSeconds, double WarmupSeconds,
    int Candidates, int Users, int Items, int DeadlineMs, SidMode SidMode, string? CatalogPath, int Levels, int Codes,
    int PoolSize, string Scene, int Seed);

/// <summary>
/// Closed loop (C workers, one call each at a time) or open loop (a fixed schedule of R calls/s shared by C workers).
/// In the open loop each call's latency starts at its intended send time, not when a worker got round to it, so a
/// stalled server is charged for the calls it delayed (no coordinated omission). Both loops stop by themselves:
/// no call starts after warmup + duration, and every call carries a deadline.
/// </summary>
public static class LoadRunner
{
    private static readonly Option<string?> Target = Opt.String("--target", "the filter service's gRPC address", "http://127.0.0.1:50051", helpName: "URL");
    private static readonly Option<int> Connections = Opt.Int("--connections", "separate GrpcChannels (own SocketsHttpHandler each)", 1, 1, 256);
    private static readonly Option<int?> Concurrency = Opt.OptionalInt("--concurrency", "closed loop: workers, each one call at a time (default 16; 64 with --rps)", 1, 10_000);
    private static readonly Option<double> Rps = Opt.Double("--rps", "open loop at this many requests/s (latency counts from the intended send time); 0: closed loop", 0, 0, 1_000_000);
    private static readonly Option<double> Duration = Opt.Double("--duration", "measured seconds", 20, 0.1, 3600);
    private static readonly Option<double> Warmup = Opt.Double("--warmup", "unmeasured seconds first", 5, 0, 600);
    private static readonly Option<int> Candidates = Opt.Int("--candidates", "candidates per request", 500, 0, 100_000);
    private static readonly Option<int> Users = Opt.Int("--users", "user ids u0..u{U-1}", 100_000, 1, int.MaxValue);
    private static readonly Option<int> Items = Opt.Int("--items", "item ids i0..i{I-1}", 50_000, 1, int.MaxValue);
    private static readonly Option<int> DeadlineMs = Opt.Int("--deadline-ms", "deadline per call", 1000, 1, 600_000);
    private static readonly Option<string> Sids = Opt.Choice("--sid-mode", "catalog: empty sid, the server looks items up; explicit: send each item's SID", "catalog", "catalog", "explicit");
    private static readonly Option<string?> Catalog = Opt.String("--catalog", "catalog.jsonl of the seeded data (explicit mode; else random codes)", helpName: "FILE");
    private static readonly Option<int> Levels = Opt.Int("--levels", "SID levels (explicit mode without a catalog)", 3, 1, SidLayout.MaxLevels);
    private static readonly Option<int> Codes = Opt.Int("--codes", "codes per level (explicit mode without a catalog)", 8192, 1, SidLayout.MaxCodesPerLevel);
    private static readonly Option<int> Pool = Opt.Int("--pool", "prebuilt requests", 256, 1, 100_000);
    private static readonly Option<string?> Scene = Opt.String("--scene", "scene of every request", "", helpName: "SCENE");
    private static readonly Option<int> Seed = Opt.Int("--seed", "seed of the request pool", 1, 0, int.MaxValue);

    public static Command Command()
    {
        var command = new Command("load", "gRPC load against conrec.v1.NegativeFilter/FilterCandidates (the default command).")
            .With(Target, Connections, Concurrency, Rps, Duration, Warmup, Candidates, Users, Items, DeadlineMs, Sids, Catalog, Levels, Codes, Pool, Scene, Seed);
        command.SetAction((r, _) => RunAsync(Parse(r)));
        return command;
    }

    public static LoadOptions Parse(ParseResult r)
    {
        var target = r.GetValue(Target)!;
        if (!Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new UsageException($"--target '{target}' must be an http:// or https:// URL");
        double rps = r.GetValue(Rps);
        var options = new LoadOptions(
            Target: uri, Connections: r.GetValue(Connections), Concurrency: r.GetValue(Concurrency) ?? (rps > 0 ? 64 : 16), Rps: rps,
            DurationSeconds: r.GetValue(Duration), WarmupSeconds: r.GetValue(Warmup), Candidates: r.GetValue(Candidates), Users: r.GetValue(Users),
            Items: r.GetValue(Items), DeadlineMs: r.GetValue(DeadlineMs), SidMode: r.GetValue(Sids) == "explicit" ? SidMode.Explicit : SidMode.Catalog,
            CatalogPath: r.GetValue(Catalog), Levels: r.GetValue(Levels), Codes: r.GetValue(Codes), PoolSize: r.GetValue(Pool), Scene: r.GetValue(Scene)!,
            Seed: r.GetValue(Seed));
        if (options.CatalogPath is not null && options.SidMode != SidMode.Explicit)
            throw new UsageException("--catalog only applies to --sid-mode explicit");
        return options;
    }

    public static async Task<int> RunAsync(LoadOptions o)
    {
        var pool = BuildRequests(o);
        var channels = new GrpcChannel[o.Connections];
        var clients = new NegativeFilter.NegativeFilterClient[o.Connections];
        for (int i = 0; i < channels.Length; i++)
        {
            var handler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingDelay = TimeSpan.FromSeconds(60),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            };
            channels[i] = GrpcChannel.ForAddress(o.Target, new GrpcChannelOptions
            {
                HttpHandler = handler,
                DisposeHttpClient = true,
                MaxReceiveMessageSize = 64 << 20,
                MaxSendMessageSize = 64 << 20,
            });
            clients[i] = new NegativeFilter.NegativeFilterClient(channels[i]);
        }

        try
        {
            // One probe per channel: fail fast with the server's answer instead of 20 s of identical errors.
            foreach (var client in clients)
            {
                try { await client.FilterCandidatesAsync(pool[0], deadline: DateTime.UtcNow.AddSeconds(10)); }
                catch (RpcException e)
                {
                    Console.Error.WriteLine($"error: probe call to {o.Target} failed: {e.StatusCode} {e.Status.Detail}");
                    return 1;
                }
            }

            string loop = o.Rps > 0 ? $"open loop at {o.Rps:F0} req/s over {o.Concurrency} workers" : $"closed loop, concurrency {o.Concurrency}";
            Console.WriteLine($"target {o.Target}, {o.Connections} connection(s), {loop}; {o.Candidates} candidates/request " +
                              $"(sid {o.SidMode.ToString().ToLowerInvariant()}), {o.Users} users, {o.Items} items, pool {pool.Length}, " +
                              $"warmup {o.WarmupSeconds}s + {o.DurationSeconds}s, deadline {o.DeadlineMs} ms");

            var run = new Run(o, pool, clients);
            await run.ExecuteAsync();
            run.Report(Console.Out);
            return 0;
        }
        finally
        {
            foreach (var c in channels) c.Dispose();
        }
    }

    private static FilterCandidatesRequest[] BuildRequests(LoadOptions o)
    {
        var rng = new Random(o.Seed);
        var layout = new SidLayout(o.Levels, o.Codes);
        Dictionary<string, uint[]>? catalog = o.CatalogPath is null ? null : ReadCatalog(o.CatalogPath, layout, o.Items);
        var pool = new FilterCandidatesRequest[o.PoolSize];
        Span<uint> codes = stackalloc uint[o.Levels];
        for (int p = 0; p < pool.Length; p++)
        {
            var request = new FilterCandidatesRequest { UserId = "u" + rng.Next(o.Users).ToString(CultureInfo.InvariantCulture), Scene = o.Scene };
            request.Candidates.Capacity = o.Candidates;
            for (int k = 0; k < o.Candidates; k++)
            {
                var id = "i" + rng.Next(o.Items).ToString(CultureInfo.InvariantCulture);
                var candidate = new Candidate { ItemId = id };
                if (o.SidMode == SidMode.Explicit)
                {
                    if (catalog is not null)
                    {
                        if (!catalog.TryGetValue(id, out var known)) throw new InvalidOperationException($"{o.CatalogPath}: no item '{id}' (is --items larger than the catalog?)");
                        candidate.Sid.Add(known);
                    }
                    else
                    {
                        for (int l = 0; l < o.Levels; l++) codes[l] = (uint)rng.Next(o.Codes);
                        candidate.Sid.Add(codes.ToArray());
                    }
                }
                request.Candidates.Add(candidate);
            }
            pool[p] = request;
        }
        return pool;
    }

    private static Dictionary<string, uint[]> ReadCatalog(string path, SidLayout layout, int items)
    {
        var result = new Dictionary<string, uint[]>(Math.Min(items, 1 << 20), StringComparer.Ordinal);
        using var stream = File.OpenRead(path);
        foreach (var (line, bytes) in JsonlInput.ReadLines(stream, path))
        {
            var entry = JsonlInput.ParseCatalogLine(bytes, layout, path, line);
            var codes = new uint[layout.Levels];
            layout.Unpack(entry.Sid, codes);
            result[entry.ItemId] = codes;
        }
        return result;
    }

    /// <summary>Per-worker results; merged once at the end so the hot loop shares nothing but the open-loop ticket.</summary>
    private sealed class Recorder
    {
        public readonly List<long> Latency = new(1 << 14);   // completion − (intended or actual) start, Stopwatch ticks
        public readonly List<long> Service = new(1 << 14);   // completion − actual send
        public readonly List<long> Lag = new(1 << 14);       // actual send − intended send (open loop)
        public readonly Dictionary<string, long> Errors = new(StringComparer.Ordinal);
        public readonly long[] Reasons = new long[8];
        public long Ok;
        public long LastDone;
    }

    private sealed class Run(LoadOptions o, FilterCandidatesRequest[] pool, NegativeFilter.NegativeFilterClient[] clients)
    {
        private readonly Recorder[] _recorders = Enumerable.Range(0, o.Concurrency).Select(_ => new Recorder()).ToArray();
        private long _origin, _measureFrom, _measureTo;
        private long _ticket;
        private double _ticksPerRequest;

        public async Task ExecuteAsync()
        {
            _origin = Stopwatch.GetTimestamp();
            _measureFrom = _origin + Seconds(o.WarmupSeconds);
            _measureTo = _measureFrom + Seconds(o.DurationSeconds);
            _ticksPerRequest = o.Rps > 0 ? Stopwatch.Frequency / o.Rps : 0;
            // Hard stop: calls still running this long after the end are cancelled (the deadline should end them first).
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(o.WarmupSeconds + o.DurationSeconds) + TimeSpan.FromMilliseconds(o.DeadlineMs) + TimeSpan.FromSeconds(10));
            var workers = new Task[o.Concurrency];
            for (int w = 0; w < workers.Length; w++)
            {
                int id = w;
                workers[w] = Task.Run(() => o.Rps > 0 ? OpenLoopAsync(id, stop.Token) : ClosedLoopAsync(id, stop.Token));
            }
            await Task.WhenAll(workers);
        }

        private static long Seconds(double s) => (long)(s * Stopwatch.Frequency);

        private async Task ClosedLoopAsync(int worker, CancellationToken stop)
        {
            var client = clients[worker % clients.Length];
            var rec = _recorders[worker];
            var rng = new Random(o.Seed * 7919 + worker);
            while (true)
            {
                long start = Stopwatch.GetTimestamp();
                if (start >= _measureTo) return;
                await CallAsync(client, pool[rng.Next(pool.Length)], start, start, rec, stop);
            }
        }

        private async Task OpenLoopAsync(int worker, CancellationToken stop)
        {
            var client = clients[worker % clients.Length];
            var rec = _recorders[worker];
            var rng = new Random(o.Seed * 7919 + worker);
            long oneMs = Stopwatch.Frequency / 1000;
            while (true)
            {
                long k = Interlocked.Increment(ref _ticket) - 1;
                long intended = _origin + (long)(k * _ticksPerRequest);
                if (intended >= _measureTo) return;
                long now = Stopwatch.GetTimestamp();
                if (intended - now >= oneMs)
                {
                    try { await Task.Delay(TimeSpan.FromTicks((intended - now) * TimeSpan.TicksPerSecond / Stopwatch.Frequency), stop); }
                    catch (OperationCanceledException) { return; }
                    now = Stopwatch.GetTimestamp();
                }
                // Late: charge from the intended time. Early (timer granularity, < 1 ms): from the actual send.
                await CallAsync(client, pool[rng.Next(pool.Length)], Math.Min(intended, now), now, rec, stop, lag: now - intended);
            }
        }

        private async Task CallAsync(NegativeFilter.NegativeFilterClient client, FilterCandidatesRequest request, long charged, long sent,
            Recorder rec, CancellationToken stop, long? lag = null)
        {
            bool measured = charged >= _measureFrom && charged < _measureTo;
            try
            {
                var response = await client.FilterCandidatesAsync(request, deadline: DateTime.UtcNow.AddMilliseconds(o.DeadlineMs), cancellationToken: stop);
                long done = Stopwatch.GetTimestamp();
                if (!measured) return;
                rec.Ok++;
                foreach (var d in response.Decisions) rec.Reasons[Math.Clamp((int)d.Reason, 0, rec.Reasons.Length - 1)]++;
                Record(rec, done, charged, sent, lag);
            }
            catch (RpcException e)
            {
                long done = Stopwatch.GetTimestamp();
                if (!measured) return;
                var key = e.StatusCode.ToString();
                rec.Errors[key] = rec.Errors.GetValueOrDefault(key) + 1;
                Record(rec, done, charged, sent, lag);
            }
        }

        private static void Record(Recorder rec, long done, long charged, long sent, long? lag)
        {
            rec.LastDone = Math.Max(rec.LastDone, done);
            rec.Latency.Add(done - charged);
            rec.Service.Add(done - sent);
            if (lag is { } l) rec.Lag.Add(l);
        }

        public void Report(TextWriter output)
        {
            long ok = _recorders.Sum(r => r.Ok);
            var errors = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var r in _recorders) foreach (var (k, v) in r.Errors) errors[k] = errors.GetValueOrDefault(k) + v;
            long failed = errors.Values.Sum();
            long total = ok + failed;
            // Calls that started in the window but finished after it stretch the window: an overloaded open loop
            // must not report its schedule rate as achieved throughput.
            long lastDone = _recorders.Max(r => r.LastDone);
            double seconds = Math.Max(o.DurationSeconds, (double)(lastDone - _measureFrom) / Stopwatch.Frequency);
            output.WriteLine($"requests   {total} ({ok} ok, {failed} errors){(failed > 0 ? ": " + string.Join(", ", errors.Select(e => $"{e.Key}={e.Value}")) : "")}");
            output.WriteLine($"throughput {total / seconds:F0} req/s achieved over {seconds:F1} s{(o.Rps > 0 ? $" (target {o.Rps:F0})" : "")}, {ok * (long)o.Candidates / seconds:F0} candidates/s");
            output.WriteLine(Line(o.Rps > 0 ? "latency (from intended send, ms)" : "latency (ms)", Merge(r => r.Latency)));
            if (o.Rps > 0)
            {
                output.WriteLine(Line("service time (from actual send, ms)", Merge(r => r.Service)));
                var lag = Merge(r => r.Lag);
                output.WriteLine(Line("send lag behind schedule (ms)", lag));
                if (lag.Length > 0 && Percentile(lag, 0.99) > Stopwatch.Frequency / 100)
                    output.WriteLine("warning: p99 send lag > 10 ms: the schedule was not kept (server saturated, or too few --concurrency workers)");
            }
            long decisions = _recorders.Sum(r => r.Reasons.Sum());
            if (decisions > 0)
            {
                var shares = new List<string>();
                for (int i = 0; i < 8; i++)
                {
                    long n = _recorders.Sum(r => r.Reasons[i]);
                    if (n > 0) shares.Add($"{(Reason)i} {100.0 * n / decisions:F2}%");
                }
                output.WriteLine($"decisions  {decisions}: {string.Join(", ", shares)}");
            }
        }

        private long[] Merge(Func<Recorder, List<long>> pick)
        {
            var all = new long[_recorders.Sum(r => pick(r).Count)];
            int at = 0;
            foreach (var r in _recorders) { pick(r).CopyTo(all, at); at += pick(r).Count; }
            Array.Sort(all);
            return all;
        }

        private static long Percentile(long[] sorted, double q) =>
            sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

        private static string Line(string label, long[] sorted)
        {
            if (sorted.Length == 0) return $"{label}: no samples";
            static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("F3", CultureInfo.InvariantCulture);
            return $"{label}: p50 {Ms(Percentile(sorted, 0.50))}  p90 {Ms(Percentile(sorted, 0.90))}  p99 {Ms(Percentile(sorted, 0.99))}  " +
                   $"p99.9 {Ms(Percentile(sorted, 0.999))}  max {Ms(sorted[^1])}  (n={sorted.Length})";
        }
    }
}
