using System.CommandLine;
using System.Diagnostics;
using CoNRec.Batch.Cli;
using CoNRec.Batch.Generate;
using CoNRec.Batch.Histories;
using CoNRec.Core;
using CoNRec.Store;
using StackExchange.Redis;

namespace CoNRec.Batch;

/// <summary>
/// Entry point of the batch CLI (System.CommandLine); stdout carries results (a generation id), stderr progress and
/// errors. Exit codes: 0 ok, 1 bad input or a store error, 2 a bad command line.
/// </summary>
public static class BatchCli
{
    public const int Ok = CliRunner.Ok, Failed = CliRunner.Failed, Usage = CliRunner.Usage;
    public const string DefaultRedis = "127.0.0.1:6380"; // the filter service's embedded Garnet

    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("CoNRec batch side: load and generate generations into Redis, publish them, and evaluate offline.");
        foreach (var c in StoreCommands(stdout, stderr)) root.Subcommands.Add(c);
        foreach (var c in Experiment.ExperimentCli.Commands(stdout, stderr)) root.Subcommands.Add(c);
        return CliRunner.RunAsync(root, args, stdout, stderr, e => e switch
        {
            ErrorBudgetExceededException budget => budget.Message + string.Concat(budget.FirstErrors.Select(m => "\n  " + m)),
            PublishException => e.Message,
            _ => null,
        });
    }

    /// <summary>
    /// Where Redis is and how to reach it over TLS: the same options on every command that touches the store. The TLS
    /// files default to the filter service's variables (Store__TlsCaFile, ...), so one secret mount serves both.
    /// </summary>
    private sealed class RedisArgs
    {
        private readonly Option<string?> _endpoint =
            Opt.String("--redis", "Redis endpoint (host:port or a StackExchange.Redis configuration string); default: the filter service's embedded Garnet", DefaultRedis, helpName: "HOST:PORT");
        private readonly Option<string?> _ca = Opt.String("--redis-ca", "PEM CA that signed Redis's certificate: connect over TLS trusting only it (default: $Store__TlsCaFile)",
            Environment.GetEnvironmentVariable("Store__TlsCaFile"), helpName: "FILE");
        private readonly Option<string?> _cert = Opt.String("--redis-cert", "PEM client certificate, for a Redis that requires one (default: $Store__TlsClientCertificateFile)",
            Environment.GetEnvironmentVariable("Store__TlsClientCertificateFile"), helpName: "FILE");
        private readonly Option<string?> _key = Opt.String("--redis-key", "PEM key of --redis-cert (default: $Store__TlsClientKeyFile)",
            Environment.GetEnvironmentVariable("Store__TlsClientKeyFile"), helpName: "FILE");

        public Option[] All => [_endpoint, _ca, _cert, _key];
        public string Endpoint(ParseResult r) => r.GetValue(_endpoint)!;

        /// <summary>A missing or half-given TLS file is bad input (exit 1), named here before any connection is tried.</summary>
        public RedisTls? Tls(ParseResult r)
        {
            try { return RedisTls.From(r.GetValue(_ca), r.GetValue(_cert), r.GetValue(_key)); }
            catch (ArgumentException e) { throw new IOException(e.Message); }
        }

        public Task<ConnectionMultiplexer> ConnectAsync(ParseResult r, TextWriter stderr) => BatchCli.ConnectAsync(Endpoint(r), Tls(r), stderr);
    }

    private static Option<string?> PrefixOption() => Opt.String("--key-prefix", "Redis key prefix", "conrec", helpName: "PREFIX");

    private static IEnumerable<Command> StoreCommands(TextWriter stdout, TextWriter stderr) =>
        [Load(stdout, stderr), Generate(stdout, stderr), Publish(stdout, stderr), Generations(stdout), Sample(stdout)];

    // One method per command: option objects are captured by the command's action, so they must not be shared variables.
    private static Command Load(TextWriter stdout, TextWriter stderr)
    {
        var redis = new RedisArgs();
        var prefix = PrefixOption();
        var codebook = Opt.String("--codebook", "codebook safetensors ([L, K, d] 'codebooks', optional encoder)", required: true, helpName: "FILE");
        var catalog = Opt.String("--catalog", "catalog JSONL: {\"item_id\", \"sid\"}", required: true, helpName: "FILE");
        var predictions = Opt.String("--predictions", "predictions JSONL: {\"user_id\", \"sids\", \"scores\"?, \"recent_negatives\"?, \"recent_positives\"?}", required: true, helpName: "FILE");
        var noPublish = Opt.Flag("--no-publish", "write and validate the generation, but leave the active one serving");
        var asOf = Opt.Time("--as-of", "when the histories behind the predictions were taken: same-day feedback up to then is superseded (default: now)");
        var load = new Command("load", "Loads a generation from files and (unless --no-publish) publishes it. Prints the generation id.")
            .With(codebook, catalog, predictions, prefix, noPublish, asOf).With(redis.All);
        load.SetAction(async (r, ct) =>
        {
            var options = new StoreOptions { KeyPrefix = r.GetValue(prefix)! };
            using var mux = await redis.ConnectAsync(r, stderr);
            var loader = new GenerationLoader(mux, new RedisKeys(options.KeyPrefix), options, m => stderr.WriteLine(m));
            var result = await loader.LoadAsync(r.GetValue(codebook)!, r.GetValue(catalog)!, r.GetValue(predictions)!, !r.GetValue(noPublish), r.GetValue(asOf), ct);
            stderr.WriteLine($"generation {result.Meta.Id}: {result.Meta.Users} users, {result.Meta.Items} items, {result.Meta.Sids} SIDs in {result.Elapsed.TotalSeconds:F2}s " +
                             $"({result.UsersPerSecond:F0} users/s); {(result.Published ? "published" : "not published (--no-publish)")}");
            stdout.WriteLine(result.Meta.Id);
            return Ok;
        });
        return load;
    }

    private static Command Generate(TextWriter stdout, TextWriter stderr)
    {
        var redis = new RedisArgs();
        var prefix = PrefixOption();
        var (envIndex, envCount) = GenerateOptions.ShardFromEnvironment(Environment.GetEnvironmentVariable);
        var bundle = Opt.String("--bundle", "generator bundle directory (bundle.json, model/, codebook, catalog)", required: true, helpName: "DIR");
        var histories = Opt.String("--histories", "user histories, JSONL or Parquet", required: true, helpName: "FILE");
        var shardIndex = Opt.Int("--shard-index", "this shard (default JOB_COMPLETION_INDEX)", envIndex, 0, 65_535);
        var shardCount = Opt.Int("--shard-count", "shards of the generation (default JOB_COMPLETION_COUNT)", envCount, 1, 65_536);
        var device = Opt.Choice("--device", "where beam search runs", "cpu", "cpu", "cuda");
        var output = Opt.String("--output", "also write the predictions JSONL here (audits, offline evaluation)", helpName: "FILE");
        var generation = Opt.String("--generation", "generation id (default: derived from the bundle, the input and the shard count, so a rerun resumes)", helpName: "ID");
        var batchSize = Opt.Int("--batch-size", "users per model batch", 16, 1, 4096);
        var chunkSize = Opt.Int("--chunk-size", "users per checkpoint: the most work a crash can cost", 256, 1, 1_000_000);
        var beamWidth = Opt.OptionalInt("--beam-width", "beams (default: the bundle's)", 1, 1024);
        var topK = Opt.OptionalInt("--top-k", "SIDs kept per user (default: the bundle's)", 1, 255);
        var maxBadRecords = Opt.OptionalInt("--max-bad-records", "abort past this many malformed records", 0, int.MaxValue);
        var maxBadFraction = Opt.Double("--max-bad-fraction", "abort past this share of malformed records", 0.01, 0, 1);
        var pushgateway = Opt.String("--pushgateway", "Prometheus Pushgateway URL (or CONREC_PUSHGATEWAY)", helpName: "URL");
        var noProgressBar = Opt.Flag("--no-progress-bar", "plain log lines instead of a progress bar");
        var recentNegatives = Opt.OptionalInt("--recent-negatives", "recent negatives stored per profile (default: the bundle's profile.recent_negatives)", 0, SidSetCodec.MaxCount);
        var recentPositives = Opt.OptionalInt("--recent-positives", "recent positives stored per profile (default: the bundle's)", 0, SidSetCodec.MaxCount);
        var generateAsOf = Opt.Time("--as-of", "the histories' snapshot time: same-day feedback up to then is superseded (default: the generation's creation)");
        var generate = new Command("generate",
            "Runs constrained beam search for one shard's users and writes their profiles into a generation (printed on stdout). " +
            "Resumable: a rerun continues after its last checkpoint. Publish separately once every shard is done.")
            .With(redis.All).With(bundle, histories, prefix, shardIndex, shardCount, device, output, generation, batchSize, chunkSize, beamWidth, topK,
                  maxBadRecords, maxBadFraction, pushgateway, noProgressBar, recentNegatives, recentPositives, generateAsOf);
        generate.SetAction(async (r, ct) =>
        {
            var options = new GenerateOptions
            {
                Redis = redis.Endpoint(r), RedisTls = redis.Tls(r), Bundle = r.GetValue(bundle)!, Histories = r.GetValue(histories)!, KeyPrefix = r.GetValue(prefix)!,
                ShardIndex = r.GetValue(shardIndex), ShardCount = r.GetValue(shardCount), Device = r.GetValue(device)!, Output = r.GetValue(output),
                Generation = r.GetValue(generation), BatchSize = r.GetValue(batchSize), ChunkSize = r.GetValue(chunkSize),
                BeamWidth = r.GetValue(beamWidth), TopK = r.GetValue(topK), MaxBadRecords = r.GetValue(maxBadRecords), MaxBadFraction = r.GetValue(maxBadFraction),
                Pushgateway = r.GetValue(pushgateway), Terminal = r.GetValue(noProgressBar) ? false : null,
                RecentNegatives = r.GetValue(recentNegatives), RecentPositives = r.GetValue(recentPositives), AsOf = r.GetValue(generateAsOf),
            };
            var result = await new GenerateJob(options, stderr).RunAsync(ct);
            stdout.WriteLine(result.Generation);
            return Ok;
        });
        return generate;
    }

    private static Command Publish(TextWriter stdout, TextWriter stderr)
    {
        var redis = new RedisArgs();
        var prefix = PrefixOption();
        var publishGeneration = Opt.String("--generation", "the generation to publish (an older one: a rollback)", required: true, helpName: "ID");
        var minCoverage = Opt.Double("--min-coverage", "generated generations: least share of input users with a profile", 0.5, 0, 1);
        var maxEmpty = Opt.Double("--max-empty-rate", "generated generations: most share of prompted users without output", 0.01, 0, 1);
        var publish = new Command("publish", "Validates and publishes (or rolls back to) a generation: one atomic switch.")
            .With(publishGeneration, prefix, minCoverage, maxEmpty).With(redis.All);
        publish.SetAction(async (r, ct) =>
        {
            var options = new StoreOptions { KeyPrefix = r.GetValue(prefix)! };
            using var mux = await redis.ConnectAsync(r, stderr);
            var sw = Stopwatch.StartNew();
            var policy = new PublishPolicy { MinCoverage = r.GetValue(minCoverage), MaxEmptyOutputRate = r.GetValue(maxEmpty) };
            // The switch is audited with who ran it: in a Kubernetes Job that is the image's user and the pod's name.
            var meta = await GenerationPublisher.PublishAsync(mux.GetDatabase(), new RedisKeys(options.KeyPrefix), options, r.GetValue(publishGeneration)!, policy,
                actor: $"{Environment.UserName}@{Environment.MachineName} (batch publish)");
            stderr.WriteLine($"published {meta.Id} ({meta.Users} users, codebook {meta.CodebookHash[..12]}) in {sw.ElapsedMilliseconds} ms");
            stdout.WriteLine(meta.Id);
            return Ok;
        });
        return publish;
    }

    private static Command Generations(TextWriter stdout)
    {
        var redis = new RedisArgs();
        var prefix = PrefixOption();
        var list = new Command("generations", "Lists generations, newest first.").With(prefix).With(redis.All);
        list.SetAction(async (r, ct) =>
        {
            var options = new StoreOptions { KeyPrefix = r.GetValue(prefix)! };
            using var mux = await redis.ConnectAsync(r, TextWriter.Null);
            var registry = new GenerationRegistry(mux.GetDatabase(), new RedisKeys(options.KeyPrefix), options);
            var active = await registry.GetActiveIdAsync();
            stdout.WriteLine($"{"generation",-26} {"status",-10} {"users",10} {"items",10} codebook      created");
            foreach (var g in await registry.ListAsync())
                stdout.WriteLine($"{g.Id,-26} {g.Status,-10} {g.Users,10} {g.Items,10} {g.CodebookHash[..12]}  {g.Created:u}{(g.Id == active ? "  <- active" : "")}");
            return Ok;
        });
        return list;
    }

    private static Command Sample(TextWriter stdout)
    {
        var sampleOut = Opt.String("--out", "directory for codebook.safetensors, catalog.jsonl, predictions.jsonl", required: true, helpName: "DIR");
        var users = Opt.Int("--users", "users", 50, 1, 100_000_000);
        var items = Opt.Int("--items", "catalog items", 500, 1, 100_000_000);
        var levels = Opt.Int("--levels", "codebook levels (L)", 3, 1, SidLayout.MaxLevels);
        var codes = Opt.Int("--codes", "codes per level (K)", 32, 1, SidLayout.MaxCodesPerLevel);
        var dim = Opt.Int("--dim", "codeword dimension (d)", 16, 1, Codebook.MaxDimension);
        var sids = Opt.Int("--sids", "predicted SIDs per user", 20, 0, SidSetCodec.MaxCount);
        var seed = Opt.Int("--seed", "seed", 7, 0, int.MaxValue);
        var sample = new Command("sample", "Writes a deterministic synthetic codebook, catalog and predictions.").With(sampleOut, users, items, levels, codes, dim, sids, seed);
        sample.SetAction(r =>
        {
            var dir = r.GetValue(sampleOut)!;
            SampleData.Write(dir, new SampleData.Spec(Users: r.GetValue(users), Items: r.GetValue(items), Levels: r.GetValue(levels), Codes: r.GetValue(codes),
                Dimension: r.GetValue(dim), SidsPerUser: r.GetValue(sids), Seed: r.GetValue(seed)));
            stdout.WriteLine(dir);
            return Ok;
        });
        return sample;
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(string endpoint, RedisTls? tls, TextWriter stderr)
    {
        var mux = await RedisConnection.ConnectAsync(endpoint, "conrec-batch", allowAdmin: true, tls);
        string shown = RedisConnection.Describe(endpoint) + (tls is null ? "" : " over TLS");
        if (!mux.IsConnected) { mux.Dispose(); throw new IOException($"cannot reach Redis at {shown}"); }
        stderr.WriteLine($"connected to {shown}");
        return mux;
    }
}
