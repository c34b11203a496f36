using System.CommandLine;
using CoNRec.Batch.Cli;
using System.Diagnostics;
using System.Globalization;
using CoNRec.Core;
using CoNRec.Store;
using StackExchange.Redis;

namespace CoNRec.LoadClient;

/// <summary>seed: sample data → published generation (for load tests). memory: Redis bytes per user of a generation.</summary>
public static class StoreCommands
{
    private static Option<string?> Redis() => Opt.String("--redis", "Redis endpoint", required: true, helpName: "HOST:PORT");

    public static Command Seed()
    {
        var redis = Redis();
        var outDir = Opt.String("--out", "directory for the sample files", required: true, helpName: "DIR");
        var users = Opt.Int("--users", "users", 100_000, 1, 100_000_000);
        var items = Opt.Int("--items", "items", 50_000, 1, 100_000_000);
        var levels = Opt.Int("--levels", "levels", 3, 1, SidLayout.MaxLevels);
        var codes = Opt.Int("--codes", "codes per level", 8192, 1, SidLayout.MaxCodesPerLevel);
        var dim = Opt.Int("--dim", "codeword dimension", 256, 1, Codebook.MaxDimension);
        var sids = Opt.Int("--sids", "predicted SIDs per user", 20, 0, SidSetCodec.MaxCount);
        var negatives = Opt.Int("--recent-negatives", "recent negatives per profile", 0, 0, SidSetCodec.MaxCount);
        var positives = Opt.Int("--recent-positives", "recent positives per profile", 0, 0, SidSetCodec.MaxCount);
        var prefix = Opt.String("--key-prefix", "Redis key prefix", "conrec", helpName: "PREFIX");
        var noPublish = Opt.Flag("--no-publish", "load without publishing");
        var command = new Command("seed", "Sample data, loaded and published as a generation (for load tests).")
            .With(redis, outDir, users, items, levels, codes, dim, sids, negatives, positives, prefix, noPublish);
        command.SetAction((r, _) => SeedAsync(r.GetValue(redis)!, r.GetValue(outDir)!, new SampleData.Spec(
            Users: r.GetValue(users), Items: r.GetValue(items), Levels: r.GetValue(levels), Codes: r.GetValue(codes), Dimension: r.GetValue(dim),
            SidsPerUser: r.GetValue(sids)) { RecentNegatives = r.GetValue(negatives), RecentPositives = r.GetValue(positives) },
            r.GetValue(prefix)!, !r.GetValue(noPublish)));
        return command;
    }

    private static async Task<int> SeedAsync(string redis, string dir, SampleData.Spec spec, string prefix, bool publish)
    {
        var sw = Stopwatch.StartNew();
        SampleData.Write(dir, spec);
        Console.WriteLine($"sample data: {spec} written to {dir} in {sw.Elapsed.TotalSeconds:F1}s");

        using var mux = await ConnectAsync(redis);
        var options = new StoreOptions { KeyPrefix = prefix };
        var result = await Load(mux, options, dir, publish);
        Console.WriteLine($"generation {result.Meta.Id}: {result.Meta.Users} users, {result.Meta.Items} items, {result.Meta.Sids} SIDs in " +
                          $"{result.Elapsed.TotalSeconds:F2}s = {result.UsersPerSecond:F0} users/s (whole load: codebook, catalog, predictions, publish); " +
                          (result.Published ? "published" : "not published"));
        return 0;
    }

    public static Command Memory()
    {
        var redis = Redis();
        var users = Opt.Int("--users", "users", 1_000_000, 1, 100_000_000);
        var items = Opt.Int("--items", "items", 1000, 1, 100_000_000);
        var levels = Opt.Int("--levels", "levels", 3, 1, SidLayout.MaxLevels);
        var codes = Opt.Int("--codes", "codes per level", 8192, 1, SidLayout.MaxCodesPerLevel);
        var dim = Opt.Int("--dim", "codeword dimension", 16, 1, Codebook.MaxDimension);
        var sids = Opt.Int("--sids", "predicted SIDs per user", 20, 1, SidSetCodec.MaxCount);
        var negatives = Opt.Int("--recent-negatives", "recent negatives per profile", 0, 0, SidSetCodec.MaxCount);
        var positives = Opt.Int("--recent-positives", "recent positives per profile", 0, 0, SidSetCodec.MaxCount);
        var prefix = Opt.String("--key-prefix", "Redis key prefix", "benchmem", helpName: "PREFIX");
        var outDir = Opt.String("--out", "keep the sample files here", helpName: "DIR");
        var keep = Opt.Flag("--keep", "leave the generation in Redis");
        var noAdmin = Opt.Flag("--no-admin", "the loader may not CONFIG SET: shows the cost of untuned listpack limits");
        var command = new Command("memory", "Redis bytes per user of a generation (INFO memory before and after a load).")
            .With(redis, users, items, levels, codes, dim, sids, negatives, positives, prefix, outDir, keep, noAdmin);
        command.SetAction((r, _) => MemoryAsync(r.GetValue(redis)!, new SampleData.Spec(
            Users: r.GetValue(users), Items: r.GetValue(items), Levels: r.GetValue(levels), Codes: r.GetValue(codes), Dimension: r.GetValue(dim),
            SidsPerUser: r.GetValue(sids)) { RecentNegatives = r.GetValue(negatives), RecentPositives = r.GetValue(positives) },
            r.GetValue(prefix)!, r.GetValue(outDir), r.GetValue(keep), r.GetValue(noAdmin)));
        return command;
    }

    private static async Task<int> MemoryAsync(string redis, SampleData.Spec spec, string prefix, string? outDir, bool keep, bool noAdmin)
    {
        string dir = outDir ?? Directory.CreateTempSubdirectory("conrec-memory-").FullName;
        try
        {
            var sw = Stopwatch.StartNew();
            SampleData.Write(dir, spec);
            Console.WriteLine($"sample data: {spec} written to {dir} in {sw.Elapsed.TotalSeconds:F1}s");

            using var mux = await ConnectAsync(redis);
            // --no-admin: the loader gets a connection without CONFIG rights, as on a managed Redis that forbids CONFIG SET,
            // so the listpack limits stay whatever the server has. This connection still reads INFO and CONFIG GET.
            using var loaderMux = noAdmin ? await ConnectAsync(redis, admin: false) : null;
            var server = mux.GetServer(mux.GetEndPoints()[0]);
            var db = mux.GetDatabase();
            var keys = new RedisKeys(prefix);
            await foreach (var _ in server.KeysAsync(pattern: prefix + ":*", pageSize: 10))
                throw new InvalidOperationException($"keys with prefix '{prefix}:' already exist on {redis}; pick another --key-prefix or remove them");

            Console.WriteLine($"before load: {await ListpackLimits(server)}");
            var before = await MemoryInfo(server);
            var result = await Load(loaderMux ?? mux, new StoreOptions { KeyPrefix = prefix }, dir, publish: true);
            await Task.Delay(1000); // let Redis release client query/output buffers of the pipelined load
            var after = await MemoryInfo(server);
            Console.WriteLine($"after load:  {await ListpackLimits(server)}");

            long users = result.Meta.Users;
            long delta = after["used_memory"] - before["used_memory"];
            long deltaDataset = after["used_memory_dataset"] - before["used_memory_dataset"];
            Console.WriteLine($"loaded {users} users x {spec.SidsPerUser} SIDs (L={spec.Levels}, K={spec.Codes}, value {SidSetCodec.EncodedLength(new SidLayout(spec.Levels, spec.Codes), spec.SidsPerUser)} B) " +
                              $"+ {result.Meta.Items} items in {result.Elapsed.TotalSeconds:F2}s = {result.UsersPerSecond:F0} users/s; " +
                              $"{result.Meta.UserBuckets} user buckets");
            Console.WriteLine($"used_memory         {before["used_memory"]} -> {after["used_memory"]}: delta {delta} B = {(double)delta / users:F1} bytes/user");
            Console.WriteLine($"used_memory_dataset {before["used_memory_dataset"]} -> {after["used_memory_dataset"]}: delta {deltaDataset} B = {(double)deltaDataset / users:F1} bytes/user");

            // Exact per-key accounting of the user buckets alone (MEMORY USAGE ... SAMPLES 0 walks the whole value).
            var encodings = new Dictionary<string, int>(StringComparer.Ordinal);
            long bucketBytes = 0, fields = 0;
            const int window = 2048;
            for (int start = 0; start < result.Meta.UserBuckets; start += window)
            {
                int end = Math.Min(result.Meta.UserBuckets, start + window);
                var usage = new List<Task<RedisResult>>();
                var encoding = new List<Task<RedisResult>>();
                var length = new List<Task<long>>();
                for (int b = start; b < end; b++)
                {
                    var key = keys.UserBucket(result.Meta, b);
                    usage.Add(db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", 0));
                    encoding.Add(db.ExecuteAsync("OBJECT", "ENCODING", key));
                    length.Add(db.HashLengthAsync(key));
                }
                foreach (var u in usage) bucketBytes += (long)await u;
                foreach (var e in encoding) { var name = (string?)await e ?? "(missing)"; encodings[name] = encodings.GetValueOrDefault(name) + 1; }
                foreach (var l in length) fields += await l;
            }
            var first = keys.UserBucket(result.Meta, 0);
            Console.WriteLine($"OBJECT ENCODING {first} = {(string?)await db.ExecuteAsync("OBJECT", "ENCODING", first)}; " +
                              $"all user buckets: {string.Join(", ", encodings.Select(e => $"{e.Key} {e.Value}"))}");
            Console.WriteLine($"MEMORY USAGE over all user buckets: {bucketBytes} B for {fields} users = {(double)bucketBytes / fields:F1} bytes/user " +
                              $"(mean {(double)fields / result.Meta.UserBuckets:F1} users/bucket)");
            Console.WriteLine($"bytes/user (used_memory delta) = {(double)delta / users:F1}  target <= 150: {((double)delta / users <= 150 ? "met" : "MISSED")}");

            if (!keep)
            {
                long removed = 0;
                foreach (var pattern in new[] { prefix + ":*", "{" + prefix + "}:*" })
                {
                    var batch = new List<RedisKey>(1000);
                    await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000))
                    {
                        batch.Add(key);
                        if (batch.Count == 1000) { removed += await db.KeyDeleteAsync([.. batch]); batch.Clear(); }
                    }
                    if (batch.Count > 0) removed += await db.KeyDeleteAsync([.. batch]);
                }
                Console.WriteLine($"removed {removed} keys with prefix '{prefix}' (use --keep to keep them)");
            }
            return 0;
        }
        finally
        {
            if (outDir is null) Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string endpoint, bool admin = true)
    {
        var mux = await RedisConnection.ConnectAsync(endpoint, "bench", allowAdmin: admin);
        if (!mux.IsConnected) { mux.Dispose(); throw new IOException($"cannot reach Redis at {endpoint}"); }
        return mux;
    }

    private static Task<LoadResult> Load(ConnectionMultiplexer mux, StoreOptions options, string dir, bool publish) =>
        new GenerationLoader(mux, new RedisKeys(options.KeyPrefix), options, m => Console.Error.WriteLine($"  loader: {m}"))
            .LoadAsync(Path.Combine(dir, "codebook.safetensors"), Path.Combine(dir, "catalog.jsonl"), Path.Combine(dir, "predictions.jsonl"), publish);

    private static async Task<Dictionary<string, long>> MemoryInfo(IServer server)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var group in await server.InfoAsync("memory"))
            foreach (var (key, value) in group)
                if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) result[key] = n;
        return result;
    }

    private static async Task<string> ListpackLimits(IServer server)
    {
        var parts = new List<string>();
        foreach (var name in new[] { "hash-max-listpack-value", "hash-max-listpack-entries" })
        {
            var v = await server.ConfigGetAsync(name);
            parts.Add($"{name} = {(v.Length > 0 ? v[0].Value : "(not supported)")}");
        }
        return string.Join(", ", parts);
    }
}
