using System.Diagnostics;
using CoNRec.Batch.Generate;
using CoNRec.Batch.Histories;
using CoNRec.Core;
using CoNRec.Store;
using StackExchange.Redis;

namespace CoNRec.Batch;

/// <summary>Entry point of the batch CLI; stdout carries results (a generation id), stderr carries progress and errors.</summary>
public static class BatchCli
{
    public const int Ok = 0, Failed = 1, Usage = 2;
    public const string DefaultRedis = "127.0.0.1:6380"; // the filter service's embedded Garnet

    private static readonly string Help = $"""
        usage: CoNRec.Batch <command> [options]
          load         --codebook F --catalog F --predictions F [--redis host:port] [--no-publish] [--key-prefix P] [--as-of T]
                       Loads a new generation and (unless --no-publish) publishes it. Prints the generation id.
                       --as-of: when the histories behind the predictions were taken (same-day feedback up to it is superseded).
          generate     --bundle DIR --histories F [--redis host:port] [--shard-index i --shard-count n] [--device cpu|cuda]
                       [--output F] [--generation G] [--batch-size 16] [--chunk-size 256] [--beam-width B] [--top-k K]
                       [--max-bad-records N] [--max-bad-fraction 0.01] [--pushgateway URL] [--key-prefix P]
                       [--recent-negatives N] [--recent-positives N] [--as-of T]
                       Runs constrained beam search for one shard's users and writes them into generation G (derived
                       from the bundle, the input and the shard count unless given; printed on stdout). Resumable: a
                       rerun continues after its last checkpoint. Shard defaults: JOB_COMPLETION_INDEX/JOB_COMPLETION_COUNT.
          publish      --generation G [--redis host:port] [--key-prefix P] [--min-coverage 0.5] [--max-empty-rate 0.01]
                       Validates and publishes (or rolls back to) a generation. A generated one must have every shard
                       finished, its catalog written with its codebook, and coverage/empty-output within the limits.
          generations  [--redis host:port] [--key-prefix P]        Lists generations, newest first.
          sample       --out DIR [--users N] [--items N] [--levels L] [--codes K] [--dim D] [--sids S] [--seed S]
                       Writes a deterministic synthetic codebook, catalog and predictions.
        {Experiment.ExperimentCli.Help}
        --redis defaults to 127.0.0.1:6380, the filter service's embedded Garnet.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help") { stdout.WriteLine(Help); return args.Length == 0 ? Usage : Ok; }
        try
        {
            var cl = new CommandLine(args, new HashSet<string> { "--no-publish", "--no-progress-bar", "--quick", "--skip-model" });
            return cl.Command switch
            {
                "load" => await LoadAsync(cl, stdout, stderr),
                "generate" => await GenerateAsync(cl, stdout, stderr),
                "publish" => await PublishAsync(cl, stdout, stderr),
                "generations" => await ListAsync(cl, stdout),
                "sample" => Sample(cl, stdout),
                "synth" => Experiment.ExperimentCli.Synth(cl, stdout),
                "stats" => Experiment.ExperimentCli.Stats(cl, stdout),
                "import-movielens" => Experiment.ExperimentCli.ImportMovieLens(cl, stdout, stderr),
                "eval" => Experiment.ExperimentCli.Eval(cl, stdout, stderr),
                "demo" => await Experiment.ExperimentCli.DemoAsync(cl, stdout, stderr),
                _ => throw new UsageException($"unknown command '{cl.Command}'"),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine(Help);
            return Usage;
        }
        catch (ErrorBudgetExceededException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            foreach (var m in e.FirstErrors) stderr.WriteLine($"  {m}");
            return Failed;
        }
        catch (Exception e) when (e is FormatException or IOException or PublishException or RedisException or UnauthorizedAccessException
                                      or InvalidOperationException or ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string endpoint, TextWriter stderr)
    {
        var mux = await RedisConnection.ConnectAsync(endpoint, "conrec-batch", allowAdmin: true);
        if (!mux.IsConnected) { mux.Dispose(); throw new IOException($"cannot reach Redis at {endpoint}"); }
        stderr.WriteLine($"connected to {endpoint}");
        return mux;
    }

    private static StoreOptions Options(CommandLine cl) => new() { KeyPrefix = cl.Get("--key-prefix") ?? "conrec" };

    private static string Redis(CommandLine cl) => cl.Get("--redis") ?? DefaultRedis;

    private static DateTimeOffset? AsOf(CommandLine cl) => cl.Get("--as-of") is not { } v ? null
        : DateTimeOffset.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t
        : throw new UsageException($"option --as-of = '{v}' must be an ISO-8601 time such as 2026-11-30T00:00:00Z");

    private static async Task<int> LoadAsync(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        string codebook = cl.Require("--codebook"), catalog = cl.Require("--catalog"), predictions = cl.Require("--predictions");
        bool publish = !cl.Flag("--no-publish");
        var options = Options(cl);
        var redis = Redis(cl);
        var asOf = AsOf(cl);
        cl.EnsureAllUsed();
        using var mux = await ConnectAsync(redis, stderr);
        var loader = new GenerationLoader(mux, new RedisKeys(options.KeyPrefix), options, m => stderr.WriteLine(m));
        var result = await loader.LoadAsync(codebook, catalog, predictions, publish, asOf);
        stderr.WriteLine($"generation {result.Meta.Id}: {result.Meta.Users} users, {result.Meta.Items} items, {result.Meta.Sids} SIDs in {result.Elapsed.TotalSeconds:F2}s " +
                         $"({result.UsersPerSecond:F0} users/s); {(result.Published ? "published" : "not published (--no-publish)")}");
        stdout.WriteLine(result.Meta.Id);
        return Ok;
    }

    private static async Task<int> GenerateAsync(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        var (envIndex, envCount) = GenerateOptions.ShardFromEnvironment(Environment.GetEnvironmentVariable);
        var options = new GenerateOptions
        {
            Redis = Redis(cl), Bundle = cl.Require("--bundle"), Histories = cl.Require("--histories"), KeyPrefix = cl.Get("--key-prefix") ?? "conrec",
            ShardIndex = cl.Int("--shard-index", envIndex, 0, 65_535), ShardCount = cl.Int("--shard-count", envCount, 1, 65_536),
            Device = cl.Get("--device") ?? "cpu", Output = cl.Get("--output"), Generation = cl.Get("--generation"),
            BatchSize = cl.Int("--batch-size", 16, 1, 4096), ChunkSize = cl.Int("--chunk-size", 256, 1, 1_000_000),
            BeamWidth = cl.Get("--beam-width") is null ? null : cl.Int("--beam-width", 20, 1, 1024),
            TopK = cl.Get("--top-k") is null ? null : cl.Int("--top-k", 20, 1, 255),
            MaxBadRecords = cl.Get("--max-bad-records") is null ? null : cl.Int("--max-bad-records", 0, 0, int.MaxValue),
            MaxBadFraction = cl.Double("--max-bad-fraction", 0.01, 0, 1),
            Pushgateway = cl.Get("--pushgateway"),
            Terminal = cl.Flag("--no-progress-bar") ? false : null,
            RecentNegatives = cl.Get("--recent-negatives") is null ? null : cl.Int("--recent-negatives", 0, 0, SidSetCodec.MaxCount),
            RecentPositives = cl.Get("--recent-positives") is null ? null : cl.Int("--recent-positives", 0, 0, SidSetCodec.MaxCount),
            AsOf = AsOf(cl),
        };
        cl.EnsureAllUsed();
        var result = await new GenerateJob(options, stderr).RunAsync();
        stdout.WriteLine(result.Generation);
        return Ok;
    }

    private static async Task<int> PublishAsync(CommandLine cl, TextWriter stdout, TextWriter stderr)
    {
        var generation = cl.Require("--generation");
        var options = Options(cl);
        var redis = Redis(cl);
        var policy = new PublishPolicy { MinCoverage = cl.Double("--min-coverage", 0.5, 0, 1), MaxEmptyOutputRate = cl.Double("--max-empty-rate", 0.01, 0, 1) };
        cl.EnsureAllUsed();
        using var mux = await ConnectAsync(redis, stderr);
        var sw = Stopwatch.StartNew();
        var meta = await Demo.Publishing.PublishAsync(mux.GetDatabase(), options.KeyPrefix, generation, policy);
        stderr.WriteLine($"published {meta.Id} ({meta.Users} users, codebook {meta.CodebookHash[..12]}) in {sw.ElapsedMilliseconds} ms");
        stdout.WriteLine(meta.Id);
        return Ok;
    }

    private static async Task<int> ListAsync(CommandLine cl, TextWriter stdout)
    {
        var options = Options(cl);
        var redis = Redis(cl);
        cl.EnsureAllUsed();
        using var mux = await ConnectAsync(redis, TextWriter.Null);
        var registry = new GenerationRegistry(mux.GetDatabase(), new RedisKeys(options.KeyPrefix), options);
        var active = await registry.GetActiveIdAsync();
        stdout.WriteLine($"{"generation",-26} {"status",-10} {"users",10} {"items",10} codebook      created");
        foreach (var g in await registry.ListAsync())
            stdout.WriteLine($"{g.Id,-26} {g.Status,-10} {g.Users,10} {g.Items,10} {g.CodebookHash[..12]}  {g.Created:u}{(g.Id == active ? "  <- active" : "")}");
        return Ok;
    }

    private static int Sample(CommandLine cl, TextWriter stdout)
    {
        var dir = cl.Require("--out");
        var spec = new SampleData.Spec(
            Users: cl.Int("--users", 50, 1, 100_000_000), Items: cl.Int("--items", 500, 1, 100_000_000),
            Levels: cl.Int("--levels", 3, 1, SidLayout.MaxLevels), Codes: cl.Int("--codes", 32, 1, SidLayout.MaxCodesPerLevel),
            Dimension: cl.Int("--dim", 16, 1, Codebook.MaxDimension), SidsPerUser: cl.Int("--sids", 20, 0, SidSetCodec.MaxCount),
            Seed: cl.Int("--seed", 7, 0, int.MaxValue));
        cl.EnsureAllUsed();
        SampleData.Write(dir, spec);
        stdout.WriteLine(dir);
        return Ok;
    }
}
