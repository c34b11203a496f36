using System.Diagnostics;
using System.Threading.Channels;
using CoNRec.Core;
using StackExchange.Redis;

namespace CoNRec.Store;

public sealed record LoadResult(GenerationMeta Meta, bool Published, TimeSpan Elapsed)
{
    public double UsersPerSecond => Meta.Users / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Loads codebook + catalog + predictions files into a new generation. Streams both JSONL files (bounded memory)
/// and pipelines the writes. Any malformed line aborts the load with its line number: nothing is published, the
/// partial generation is deleted, and the active generation keeps serving.
/// </summary>
public sealed class GenerationLoader(IConnectionMultiplexer mux, RedisKeys keys, StoreOptions options, Action<string>? log = null)
{
    /// <param name="asOf">The snapshot time of the histories the predictions were made from (<see cref="GenerationMeta.AsOf"/>).</param>
    public async Task<LoadResult> LoadAsync(string codebookPath, string catalogPath, string predictionsPath, bool publish, DateTimeOffset? asOf = null,
        CancellationToken cancellationToken = default)
    {
        var sw = Stopwatch.StartNew();
        var db = mux.GetDatabase();
        var codebook = Codebook.Load(codebookPath);
        foreach (var path in new[] { catalogPath, predictionsPath })
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        long items = CountLines(catalogPath), users = CountLines(predictionsPath);
        log?.Invoke($"codebook {codebook.ContentHash[..12]} L={codebook.Levels} K={codebook.CodesPerLevel} d={codebook.Dimension}; ~{items} catalog lines, ~{users} prediction lines");
        // Room for a profile of 20 predicted + 20 negatives + 20 positives: listpack values stay compact up to that.
        await ListpackTuning.EnsureAsync(mux, SidSetCodec.ProfileLength(codebook.Layout, 20, 20, 20), options.UsersPerBucket * 4, log);

        var writer = await GenerationWriter.BeginAsync(db, keys, options, codebook, users, items, source: "load", asOf: asOf);
        try
        {
            await using (var catalog = File.OpenRead(catalogPath))
            {
                foreach (var (line, bytes) in JsonlInput.ReadLines(catalog, catalogPath))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await writer.AddCatalogAsync(JsonlInput.ParseCatalogLine(bytes, codebook.Layout, catalogPath, line));
                }
            }
            await LoadPredictionsAsync(writer, codebook.Layout, predictionsPath, sw, cancellationToken);
            var meta = await writer.CompleteAsync();
            if (publish) meta = await new GenerationRegistry(db, keys, options).PublishAsync(meta.Id, actor: "load");
            return new LoadResult(meta, publish, sw.Elapsed);
        }
        catch
        {
            await writer.AbortAsync();
            throw;
        }
    }

    /// <summary>
    /// Parsing is most of a load's CPU, so one thread parses while this one encodes and hands batches to Redis: a
    /// bounded channel of line chunks between them keeps memory flat and file order intact. A malformed line faults
    /// the parser with its line number, which surfaces here after the lines before it were written.
    /// </summary>
    private async Task LoadPredictionsAsync(GenerationWriter writer, SidLayout layout, string path, Stopwatch sw, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var chunks = Channel.CreateBounded<PredictionEntry[]>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        var parser = Task.Run(async () =>
        {
            try
            {
                await using var predictions = File.OpenRead(path);
                var chunk = new List<PredictionEntry>(ParseChunk);
                foreach (var (line, bytes) in JsonlInput.ReadLines(predictions, path))
                {
                    stop.Token.ThrowIfCancellationRequested();
                    chunk.Add(JsonlInput.ParsePredictionLine(bytes, layout, path, line));
                    if (chunk.Count == ParseChunk)
                    {
                        await chunks.Writer.WriteAsync([.. chunk], stop.Token);
                        chunk.Clear();
                    }
                }
                if (chunk.Count > 0) await chunks.Writer.WriteAsync([.. chunk], stop.Token);
                chunks.Writer.Complete();
            }
            catch (Exception e)
            {
                chunks.Writer.Complete(e);
                throw;
            }
        }, stop.Token);
        try
        {
            long n = 0;
            while (await chunks.Reader.WaitToReadAsync(stop.Token))
            {
                while (chunks.Reader.TryRead(out var chunk))
                {
                    foreach (var entry in chunk)
                    {
                        await writer.AddProfileAsync(entry.UserId, entry.Sids, entry.RecentNegatives, entry.RecentPositives);
                        if (++n % 200_000 == 0) log?.Invoke($"{n} users written ({n / sw.Elapsed.TotalSeconds:F0}/s)");
                    }
                }
            }
        }
        catch (Exception e) when (e is not InputFormatException && parser.IsFaulted)
        {
            await parser; // the parser's own error (a malformed line) is the one to report
            throw;
        }
        catch
        {
            await stop.CancelAsync(); // a store error: stop the parser too
            try { await parser; } catch (Exception e) when (e is OperationCanceledException or InputFormatException) { }
            throw;
        }
        await parser;
    }

    private const int ParseChunk = 2048;

    /// <summary>A cheap first pass to size the buckets; blank lines only over-estimate, which is harmless.</summary>
    public static long CountLines(string path)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[1 << 16];
        long lines = 0;
        int read;
        bool trailing = false;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            trailing = buffer[read - 1] != (byte)'\n';
        }
        return lines + (trailing ? 1 : 0);
    }
}

/// <summary>
/// Redis keeps a small hash as a compact listpack only while every value is ≤ hash-max-listpack-value bytes
/// (default 64) and it has ≤ hash-max-listpack-entries fields. 20 SIDs at K=8192 pack to ~102 bytes, so the
/// default would silently switch every bucket to a hashtable (~3× the memory). Raise the limits when allowed.
/// </summary>
public static class ListpackTuning
{
    public static async Task EnsureAsync(IConnectionMultiplexer mux, int valueBytes, int entries, Action<string>? log)
    {
        foreach (var endpoint in mux.GetEndPoints())
        {
            var server = mux.GetServer(endpoint);
            try
            {
                await Raise(server, "hash-max-listpack-value", valueBytes, log);
                await Raise(server, "hash-max-listpack-entries", entries, log);
            }
            catch (Exception e) when (e is RedisException or RedisCommandException)
            {
                log?.Invoke($"warning: could not check listpack limits on {endpoint} ({e.Message}); memory per user may be higher than documented");
            }
        }
    }

    private static async Task Raise(IServer server, string name, int wanted, Action<string>? log)
    {
        var current = await server.ConfigGetAsync(name);
        if (current.Length == 0) return; // not a Redis setting here (Garnet): nothing to tune
        if (int.TryParse(current[0].Value, out var value) && value >= wanted) return;
        await server.ConfigSetAsync(name, wanted);
        log?.Invoke($"raised {name} from {current[0].Value} to {wanted} on {server.EndPoint}");
    }
}
