using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CoNRec.Batch.Histories;
using CoNRec.Batch.Progress;
using CoNRec.Core;
using CoNRec.Model.Bundle;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Prompting;
using CoNRec.Store;
using StackExchange.Redis;

namespace CoNRec.Batch.Generate;

/// <summary>What one shard did (also what its checkpoint says at the end).</summary>
public sealed record GenerateResult(string Generation, ShardProgress Progress, bool AlreadyDone, TimeSpan Elapsed, PhaseTimings Timings);

/// <summary>
/// One shard of the nightly generation: stream histories, keep this shard's users (FNV of user_id), build prompts,
/// run constrained beam search in length-sorted batches, and write predictions through the shared
/// <see cref="GenerationWriter"/>. Every <see cref="GenerateOptions.ChunkSize"/> users it flushes and checkpoints
/// (last line, counters, --output offset) in Redis, so a restarted shard resumes after the last checkpoint and
/// recomputes at most one chunk, writing identical values. Nothing becomes visible until <c>publish</c>.
/// </summary>
public sealed class GenerateJob(GenerateOptions options, TextWriter log)
{
    /// <summary>Test hook for crash/resume: exit abruptly after this many chunks are flushed but before their checkpoint.</summary>
    public const string FaultExitVariable = "CONREC_FAULT_EXIT_AFTER_CHUNKS";

    public async Task<GenerateResult> RunAsync(CancellationToken ct = default)
    {
        options.Validate();
        var total = Stopwatch.StartNew();
        var device = Qwen3Checkpoint.ParseDevice(options.Device);
        var bundle = ModelBundle.Load(options.Bundle);
        var beam = bundle.Beam with
        {
            BeamWidth = options.BeamWidth ?? bundle.Beam.BeamWidth,
            TopK = options.TopK ?? Math.Min(bundle.Beam.TopK, options.BeamWidth ?? bundle.Beam.TopK),
            MaxBatchUsers = options.BatchSize,
        };
        beam.Validate();
        var input = await FingerprintInputAsync(options.Histories, ct);
        string generation = options.Generation ?? DeriveGenerationId(bundle.Fingerprint, input, options.ShardCount);
        long? expected = CountRecords(options.Histories);
        log.WriteLine($"generate: generation {generation}, shard {options.ShardIndex}/{options.ShardCount}, {bundle.Catalog.Count} catalog items, " +
                      $"L={bundle.Codebook.Levels} K={bundle.Codebook.CodesPerLevel}, beam {beam.BeamWidth}, top {beam.TopK}, device {options.Device}");

        using var mux = await RedisConnection.ConnectAsync(options.Redis, $"conrec-generate-{options.ShardIndex}", allowAdmin: true, options.RedisTls);
        if (!mux.IsConnected) throw new IOException($"cannot reach Redis at {RedisConnection.Describe(options.Redis)}");
        var db = mux.GetDatabase();
        var storeOptions = new StoreOptions { KeyPrefix = options.KeyPrefix };
        var keys = new RedisKeys(options.KeyPrefix);
        await ListpackTuning.EnsureAsync(mux, SidSetCodec.ProfileLength(bundle.Codebook.Layout, beam.TopK, options.RecentNegatives ?? bundle.RecentNegatives,
            options.RecentPositives ?? bundle.RecentPositives), storeOptions.UsersPerBucket * 4, m => log.WriteLine("generate: " + m));
        var writer = await GenerationWriter.OpenShardedAsync(db, keys, storeOptions, bundle.Codebook, generation, options.ShardCount,
            expected ?? 1_000, bundle.Catalog.Count, $"generate {Path.GetFileName(options.Histories)}", options.AsOf);
        var shards = new GenerationShards(db, keys);
        var progress = await shards.GetAsync(generation, options.ShardIndex) ?? new ShardProgress { Input = input, Codebook = bundle.Codebook.ContentHash };
        var timings = new PhaseTimings();
        if (progress.Input != input)
            throw new InvalidOperationException($"generation '{generation}' shard {options.ShardIndex} was started on '{progress.Input}', this run reads '{input}'; use a new --generation");
        if (progress.Status == ShardStatus.Done)
        {
            log.WriteLine($"generate: shard {options.ShardIndex} of {generation} already finished ({progress.Users} users); nothing to do");
            return new GenerateResult(generation, progress, AlreadyDone: true, total.Elapsed, timings);
        }
        if (progress.Line > 0) log.WriteLine($"generate: resuming shard {options.ShardIndex} after line {progress.Line} ({progress.Users} users already written)");

        if (options.ShardIndex == 0 && await shards.GetCatalogAsync(generation) is null)
        {
            foreach (var (item, sid) in bundle.Catalog) await writer.AddCatalogAsync(new CatalogEntry(item, sid));
            await writer.FlushAsync();
            await shards.SaveCatalogAsync(generation, new CatalogProgress(bundle.Catalog.Count, bundle.Codebook.ContentHash));
        }

        using var model = bundle.LoadModel(device, m => log.WriteLine("generate: " + m));
        using var trie = bundle.BuildTrie(model.Config.VocabSize, device);
        var search = new ConstrainedBeamSearch(model, trie, beam, bundle.PadTokenId, device) { Timings = timings };
        var prompts = bundle.CreatePromptBuilder();

        await using var metrics = new JobMetrics(options.ShardIndex, new JobMetricsOptions
        {
            Pushgateway = JobMetrics.ResolvePushgateway(options.Pushgateway), Log = log,
        });
        using var bar = new ProgressReporter(expected, log, new ProgressOptions { Label = $"generate[{options.ShardIndex}]", Unit = "records", IsTerminal = options.Terminal });
        var budget = new ErrorBudget(options.MaxBadRecords, options.MaxBadFraction);
        budget.RecordGood(progress.Records);
        if (progress.BadRecords > 0) budget.RecordBad(null, progress.BadRecords);
        bar.Advance(progress.Records + progress.BadRecords);

        using var output = OpenOutput(options.Output, progress.OutputBytes);
        int faultAfter = int.TryParse(Environment.GetEnvironmentVariable(FaultExitVariable), out int f) ? f : -1;
        int chunks = 0;
        var seenUsers = new HashSet<string>(StringComparer.Ordinal);
        var pending = new List<(string User, PromptResult Prompt, ulong[] Negatives, ulong[] Positives)>(options.ChunkSize);
        int recentNegatives = options.RecentNegatives ?? bundle.RecentNegatives, recentPositives = options.RecentPositives ?? bundle.RecentPositives;
        var state = progress;
        long lastLine = progress.Line;

        async Task FlushChunkAsync()
        {
            var sw = Stopwatch.StartNew();
            var results = pending.Count == 0 ? [] : search.Generate([.. pending.Select(p => p.Prompt.TokenIds.ToArray())]);
            long users = 0, sids = 0, empty = 0;
            for (int i = 0; i < pending.Count; i++)
            {
                var r = results[i];
                var (user, _, negatives, positives) = pending[i];
                if (r.Length == 0)
                {
                    empty++;
                    metrics.UserSkipped("empty_output");
                    if (negatives.Length == 0) continue; // nothing on the negative side: same as no profile
                }
                await writer.AddProfileAsync(user, r.Select(g => g.Sid).ToArray(), negatives, positives);
                users++; sids += r.Length;
                metrics.UserProcessed(r.Length);
                output?.WriteLine(PredictionLine(user, r, bundle.Codebook.Layout, negatives, positives));
            }
            await writer.FlushAsync();
            output?.Flush();
            if (++chunks == faultAfter) Environment.Exit(137); // simulated SIGKILL: predictions written, checkpoint not
            state = state with
            {
                Line = lastLine, Users = state.Users + users, Sids = state.Sids + sids, EmptyOutput = state.EmptyOutput + empty,
                OutputBytes = output?.BaseStream.Position ?? 0,
            };
            await shards.SaveAsync(generation, options.ShardIndex, state);
            metrics.ObserveBatch(sw.Elapsed);
            if (expected is { } e) metrics.SetProgress((double)(state.Records + state.BadRecords) / Math.Max(1, e));
            pending.Clear();
        }

        foreach (var record in HistoryReader.Read(options.Histories, ct))
        {
            if (record.Line <= progress.Line)
            {
                // Already checkpointed: only rebuild the duplicate-detection set.
                if (record.History is { } done && Mine(done.UserId)) seenUsers.Add(done.UserId);
                continue;
            }
            lastLine = record.Line;
            bar.Advance(1);
            budget.Record(record);
            if (record.History is not { } history)
            {
                state = state with { BadRecords = state.BadRecords + 1 };
                metrics.BadRecord();
                if (budget.ShouldAbort(expected)) budget.ThrowIfExceeded(options.Histories);
                continue;
            }
            state = state with { Records = state.Records + 1 };
            if (!Mine(history.UserId)) continue;
            state = state with { Seen = state.Seen + 1 };
            if (!seenUsers.Add(history.UserId))
            {
                // Two lines for one user would silently overwrite each other; keep the first and say so.
                state = state with { DuplicateUsers = state.DuplicateUsers + 1 };
                metrics.UserSkipped("duplicate");
                continue;
            }
            var prompt = prompts.Build(history);
            state = state with { UnknownItems = state.UnknownItems + prompt.SkippedUnknown };
            if (prompt.Empty)
            {
                state = state with { NoHistory = state.NoHistory + 1 };
                metrics.UserSkipped("no_history");
                continue;
            }
            pending.Add((history.UserId, prompt,
                RecentSids.Take(history.Negatives.OrderByDescending(e => e.Timestamp).Select(e => e.ItemId), bundle.Catalog, recentNegatives),
                RecentSids.Take(history.Positives.OrderByDescending(e => e.Timestamp).Select(e => e.ItemId), bundle.Catalog, recentPositives)));
            if (pending.Count >= options.ChunkSize) await FlushChunkAsync();
        }
        budget.ThrowIfExceeded(options.Histories);
        await FlushChunkAsync();
        state = state with { Status = ShardStatus.Done };
        await shards.SaveAsync(generation, options.ShardIndex, state);
        bar.Complete();
        await metrics.CompleteAsync(success: true);
        if (budget.Bad > 0) foreach (var m in budget.Messages) log.WriteLine($"generate: skipped {m}");
        log.WriteLine($"generate: shard {options.ShardIndex} done in {total.Elapsed.TotalSeconds:F1}s: {state.Users} users written, {state.Sids} SIDs, " +
                      $"{state.NoHistory} without known history, {state.EmptyOutput} empty outputs, {state.UnknownItems} unknown items, {state.BadRecords} bad records, " +
                      $"{state.DuplicateUsers} duplicate users; prefill {timings.Prefill.TotalSeconds:F1}s, decode {timings.Decode.TotalSeconds:F1}s");
        return new GenerateResult(generation, state, AlreadyDone: false, total.Elapsed, timings);

        bool Mine(string user) => options.ShardCount == 1 || RedisKeys.Bucket(user, options.ShardCount) == options.ShardIndex;
    }

    /// <summary>
    /// One predictions-JSONL line (the same format <c>load</c> reads), with total log-probabilities as scores and the
    /// profile's recent negatives and positives when there are any.
    /// </summary>
    public static string PredictionLine(string user, GeneratedSid[] sids, SidLayout layout, ulong[]? recentNegatives = null, ulong[]? recentPositives = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            Span<uint> codes = stackalloc uint[layout.Levels];
            w.WriteStartObject();
            w.WriteString("user_id", user);
            w.WriteStartArray("sids");
            foreach (var g in sids)
            {
                layout.Unpack(g.Sid, codes);
                w.WriteStartArray();
                foreach (var c in codes) w.WriteNumberValue(c);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteStartArray("scores");
            foreach (var g in sids) w.WriteNumberValue(g.LogProb);
            w.WriteEndArray();
            foreach (var (name, list) in new[] { ("recent_negatives", recentNegatives), ("recent_positives", recentPositives) })
            {
                if (list is not { Length: > 0 }) continue;
                w.WriteStartArray(name);
                foreach (var sid in list)
                {
                    layout.Unpack(sid, codes);
                    w.WriteStartArray();
                    foreach (var c in codes) w.WriteNumberValue(c);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Opens --output for appending after the checkpointed offset, dropping lines a crash left past it.</summary>
    private static StreamWriter? OpenOutput(string? path, long checkpointBytes)
    {
        if (path is null) return null;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        if (stream.Length < checkpointBytes)
        {
            stream.Dispose();
            throw new InvalidOperationException($"--output {path} has {stream.Length} bytes but the checkpoint covers {checkpointBytes}; it was replaced since, so restart with a new --generation");
        }
        stream.SetLength(checkpointBytes);
        stream.Seek(0, SeekOrigin.End);
        return new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n", AutoFlush = false };
    }

    /// <summary>name:size:sha256-prefix of the histories file; a resume refuses a different file.</summary>
    private static async Task<string> FingerprintInputAsync(string path, CancellationToken ct)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--histories {path} does not exist", path);
        await using var s = File.OpenRead(path);
        var hash = await SHA256.HashDataAsync(s, ct);
        return $"{Path.GetFileName(path)}:{s.Length}:{Convert.ToHexStringLower(hash)[..16]}";
    }

    public static string DeriveGenerationId(string bundleFingerprint, string input, int shardCount)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes($"{bundleFingerprint}|{input}|{shardCount}"));
        return "gen-" + Convert.ToHexStringLower(h)[..16];
    }

    /// <summary>JSONL: lines (gives progress an ETA and sizes the buckets). Parquet: unknown.</summary>
    private static long? CountRecords(string path) =>
        HistoryReader.DetectFormat(path) == HistoryFormat.Jsonl ? GenerationLoader.CountLines(path) : null;
}
