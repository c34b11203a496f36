using CoNRec.Batch.Cli;
using System.Diagnostics;
using CoNRec.Batch.Generate;
using CoNRec.Core;
using CoNRec.FilterService;
using CoNRec.FilterService.Tests;
using MatchSource = CoNRec.V1.MatchSource;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using StackExchange.Redis;
using Xunit;

namespace CoNRec.Batch.Tests;

/// <summary>The generate → publish → serve path on a real redis-server, through the CLI as operators run it.</summary>
public sealed class GenerateJobTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly TestBundle _bundle = new();
    private readonly string _prefix = "gen" + Guid.NewGuid().ToString("N")[..6];
    private readonly ConnectionMultiplexer _mux = redis.Connect();

    public void Dispose()
    {
        _mux.Dispose();
        _bundle.Dispose();
    }

    private IDatabase Db => _mux.GetDatabase();
    private RedisKeys Keys => new(_prefix);

    private async Task<(int Code, string Out, string Err)> CliAsync(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await BatchCli.RunAsync([.. args, "--redis", redis.Server.Endpoint, "--key-prefix", _prefix], o, e);
        return (code, o.ToString().Trim(), e.ToString());
    }

    // The bundle's one broken line in 41 is 2.4%: allow 5% unless a test sets its own budget.
    private Task<(int Code, string Out, string Err)> GenerateAsync(params string[] extra) =>
        CliAsync(["generate", "--bundle", _bundle.BundleDir, "--histories", _bundle.Histories, "--no-progress-bar", "--batch-size", "4", "--chunk-size", "8",
            .. extra.Contains("--max-bad-fraction") ? [] : (string[])["--max-bad-fraction", "0.05"], .. extra]);

    /// <summary>Runs the CLI in its own process: what a Kubernetes pod does, and the only way to crash it for real.</summary>
    private (int Code, string Err) CliProcess(IDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(BatchExecutable());
        foreach (var a in args.Concat(["--redis", redis.Server.Endpoint, "--key-prefix", _prefix])) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        _ = stdout.Result;
        return (p.ExitCode, err);
    }

    /// <summary>The Batch project's own build output (its deps.json is complete there, unlike the copy in this test's output).</summary>
    private static string BatchExecutable()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        string tfm = dir.Name, config = dir.Parent!.Name; // .../bin/<Configuration>/<tfm>/
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CoNRec.Service.sln"))) dir = dir.Parent;
        var path = Path.Combine(dir!.FullName, "src", "CoNRec.Batch", "bin", config, tfm, "CoNRec.Batch.dll");
        Assert.True(File.Exists(path), $"{path} not built");
        return path;
    }

    private async Task<Dictionary<string, byte[]?>> ReadUsersAsync(string generation)
    {
        var meta = (await new GenerationRegistry(Db, Keys, new StoreOptions()).GetMetaAsync(generation))!;
        var result = new Dictionary<string, byte[]?>();
        foreach (var u in _bundle.Users)
            result[u] = (byte[]?)await Db.HashGetAsync(Keys.UserKey(meta, u), u);
        return result;
    }

    [Fact]
    public async Task Generate_then_publish_fills_a_generation_the_filter_service_serves()
    {
        string output = _bundle.Dir.File("predictions.jsonl");
        var gen = await GenerateAsync("--output", output);
        Assert.True(gen.Code == 0, gen.Err);
        Assert.Contains("done", gen.Err);
        Assert.Contains("1 bad records", gen.Err); // the broken line, skipped within the budget
        Assert.Contains("histories.jsonl:7: 'negatives[0].ts' is missing", gen.Err);
        var pub = await CliAsync("publish", "--generation", gen.Out);
        Assert.True(pub.Code == 0, pub.Err);

        // The --output file is the predictions format: every SID a catalog SID, top-k best-first, scores log-probabilities.
        var catalogSids = _bundle.Catalog.Values.ToHashSet();
        var predictions = new Dictionary<string, PredictionEntry>();
        using (var s = File.OpenRead(output))
            foreach (var (line, bytes) in JsonlInput.ReadLines(s, output))
            {
                var p = JsonlInput.ParsePredictionLine(bytes, _bundle.Layout, output, line);
                predictions[p.UserId] = p;
                Assert.Equal(5, p.Sids.Length);
                Assert.All(p.Sids, sid => Assert.Contains(sid, catalogSids));
                Assert.True(p.Scores!.Zip(p.Scores!.Skip(1)).All(x => x.First >= x.Second && x.First < 0));
            }
        Assert.DoesNotContain("u3", predictions.Keys); // only unknown items: nothing to prompt with
        Assert.Equal(_bundle.Users.Count - 1, predictions.Count);

        await using var host = await ServiceHost.StartAsync(redis.Server.Endpoint, _prefix);
        await host.WaitReadyAsync(gen.Out);
        var codebook = Codebook.Load(Path.Combine(_bundle.BundleDir, "codebook.safetensors"));
        var user = predictions["u7"];
        float guard = new FilterOptions().DefaultGuardWeight;
        Assert.NotEmpty(user.RecentNegatives); // generate stored the profile's recent parts from the histories
        var byItem = _bundle.Catalog.ToArray();
        var request = new FilterCandidatesRequest { UserId = "u7", Scene = "default" };
        foreach (var (item, _) in byItem.Take(30)) request.Candidates.Add(new Candidate { ItemId = item });
        var response = await host.Client.FilterCandidatesAsync(request);
        Assert.Equal(gen.Out, response.Generation);
        Assert.Equal(30, response.Decisions.Count);
        for (int i = 0; i < 30; i++)
        {
            var d = response.Decisions[i];
            Assert.Equal(Reason.Scored, d.Reason);
            // The served profile: the model's SIDs plus the recent negatives and positives generate stored (written to --output too).
            var (expected, index, source, positive) = LoadedServiceFixture.ProfileReference(codebook, byItem[i].Value, user.Sids, user.RecentNegatives,
                user.RecentPositives, guard);
            Assert.Equal(expected, d.Score, 1e-4);
            Assert.Equal(index, d.MatchedIndex);
            Assert.Equal(source, (int)d.MatchSource);
            Assert.Equal(positive, d.PositiveScore, 1e-4);
            Assert.Equal(d.Score > 0.9f, d.Rejected);
        }
        // A candidate whose SID the model predicted for u7 scores exactly 1 (less the guard if u7 also liked that SID).
        var predictedItem = byItem.First(kv => kv.Value == user.Sids[0]).Key;
        var hit = (await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u7", Candidates = { new Candidate { ItemId = predictedItem } } })).Decisions[0];
        Assert.Equal(MatchSource.Predicted, hit.MatchSource);
        Assert.Equal(user.RecentPositives.Contains(user.Sids[0]) ? 1f - guard : 1f, hit.Score);
        Assert.Equal(hit.Score > 0.9f, hit.Rejected);
        var none = (await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u3", Candidates = { new Candidate { ItemId = predictedItem } } })).Decisions[0];
        Assert.Equal(Reason.NoPredictions, none.Reason);
    }

    [Fact]
    public async Task A_shard_killed_mid_run_and_rerun_produces_the_same_generation_as_an_uninterrupted_run()
    {
        string outA = _bundle.Dir.File("a.jsonl"), outB = _bundle.Dir.File("b.jsonl");
        var a = await GenerateAsync("--generation", "gen-a", "--output", outA);
        Assert.True(a.Code == 0, a.Err);

        string[] args = ["generate", "--bundle", _bundle.BundleDir, "--histories", _bundle.Histories, "--no-progress-bar", "--batch-size", "4",
            "--chunk-size", "8", "--generation", "gen-b", "--output", outB, "--max-bad-fraction", "0.05"];
        var crashed = CliProcess(new Dictionary<string, string> { [GenerateJob.FaultExitVariable] = "2" }, args);
        Assert.True(crashed.Code == 137, crashed.Err);
        var shards = new GenerationShards(Db, Keys);
        var mid = (await shards.GetAsync("gen-b", 0))!;
        Assert.Equal(ShardStatus.Running, mid.Status);
        Assert.Equal(8, mid.Users); // chunk 1 checkpointed; chunk 2 written but not checkpointed
        Assert.Contains("has not finished", (await CliAsync("publish", "--generation", "gen-b")).Err);

        var resumed = CliProcess(new Dictionary<string, string>(), args);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains($"resuming shard 0 after line {mid.Line}", resumed.Err);

        Assert.Equal(await ReadUsersAsync("gen-a"), await ReadUsersAsync("gen-b"));
        Assert.Equal(File.ReadAllBytes(outA), File.ReadAllBytes(outB));
        var (pa, pb) = ((await shards.GetAsync("gen-a", 0))!, (await shards.GetAsync("gen-b", 0))!);
        Assert.Equal(pa with { Updated = default }, pb with { Updated = default });
        var again = await GenerateAsync("--generation", "gen-b");
        Assert.Contains("already finished", again.Err);
        Assert.Equal(0, (await CliAsync("publish", "--generation", "gen-b")).Code);
        Assert.Equal(0, (await CliAsync("publish", "--generation", "gen-a")).Code); // rollback-style switch works too
        var last = (await new GenerationRegistry(Db, Keys, new StoreOptions()).GetSwitchesAsync(1)).Single();
        Assert.Equal(("gen-a", "gen-b"), (last.Generation, last.Previous));
        Assert.EndsWith("@" + Environment.MachineName + " (batch publish)", last.Actor, StringComparison.Ordinal); // audited with who ran it
        Assert.Contains("is 'retired'", (await GenerateAsync("--generation", "gen-b")).Err); // a published generation is never rewritten
    }

    [Fact]
    public async Task Publish_refuses_until_every_shard_has_finished_and_shards_partition_the_users()
    {
        var s0 = await GenerateAsync("--shard-index", "0", "--shard-count", "2");
        Assert.True(s0.Code == 0, s0.Err);
        var refused = await CliAsync("publish", "--generation", s0.Out);
        Assert.Equal(BatchCli.Failed, refused.Code);
        Assert.Contains("shard 1 of 2 has not started", refused.Err);
        Assert.True((await Db.StringGetAsync(Keys.Active)).IsNull);

        var s1 = await GenerateAsync("--shard-index", "1", "--shard-count", "2");
        Assert.Equal(s0.Out, s1.Out); // the same derived generation id
        Assert.Equal(0, (await CliAsync("publish", "--generation", s0.Out)).Code);
        var users = await ReadUsersAsync(s0.Out);
        Assert.Equal(_bundle.Users.Count - 1, users.Values.Count(v => v is not null));
        var shards = await new GenerationShards(Db, Keys).ListAsync(s0.Out);
        Assert.True(shards[0].Users > 0 && shards[1].Users > 0);
        Assert.Equal(_bundle.Users.Count - 1, shards[0].Users + shards[1].Users);
    }

    [Fact]
    public async Task Coverage_and_input_checks_refuse_with_the_numbers()
    {
        var g = await GenerateAsync();
        Assert.Equal(0, g.Code);
        var strict = await CliAsync("publish", "--generation", g.Out, "--min-coverage", "1");
        Assert.True(strict.Code == BatchCli.Failed, strict.Err);
        Assert.Contains($"coverage 97.5% ({_bundle.Users.Count - 1} of {_bundle.Users.Count} users have predictions) is below --min-coverage 100.0%", strict.Err);

        // Resuming a generation with a different input file is refused.
        File.AppendAllText(_bundle.Histories, """{"user_id": "late", "negatives": []}""" + "\n");
        var other = await GenerateAsync("--generation", g.Out);
        Assert.Equal(BatchCli.Failed, other.Code);
        Assert.Contains("use a new --generation", other.Err);
    }

    [Fact]
    public async Task Bad_lines_over_the_budget_fail_the_shard_and_name_the_line()
    {
        var g = await GenerateAsync("--max-bad-records", "0", "--max-bad-fraction", "0");
        Assert.Equal(BatchCli.Failed, g.Code);
        Assert.Contains("histories.jsonl:7", g.Err); // the broken line after u5 (line 6)
        Assert.Contains("'negatives[0].ts'", g.Err);
    }

    [Fact]
    public void Shard_defaults_come_from_the_indexed_job_environment()
    {
        Assert.Equal((3, 8), GenerateOptions.ShardFromEnvironment(n => n switch { "JOB_COMPLETION_INDEX" => "3", "JOB_COMPLETION_COUNT" => "8", _ => null }));
        Assert.Equal((0, 1), GenerateOptions.ShardFromEnvironment(_ => null));
        Assert.Throws<UsageException>(() => GenerateOptions.ShardFromEnvironment(n => n == "JOB_COMPLETION_INDEX" ? "x" : null));
        var o = new GenerateOptions { Redis = "r", Bundle = "b", Histories = "h", ShardIndex = 2, ShardCount = 2 };
        Assert.Contains("--shard-index 2 must be in [0, 1]", Assert.Throws<UsageException>(o.Validate).Message);
    }
}

/// <summary>The same job against the embedded Garnet the filter service hosts by default (transactions, TTLs, GT expiry).</summary>
public sealed class GarnetGenerateTests(GarnetFixture garnet) : IClassFixture<GarnetFixture>
{
    [Fact]
    public async Task Sharded_generate_and_publish_work_on_embedded_garnet()
    {
        using var bundle = new TestBundle(users: 20, badLines: 0);
        string prefix = "g" + Guid.NewGuid().ToString("N")[..6];
        async Task<(int Code, string Out, string Err)> Cli(params string[] args)
        {
            var o = new StringWriter();
            var e = new StringWriter();
            int code = await BatchCli.RunAsync([.. args, "--redis", garnet.Endpoint, "--key-prefix", prefix], o, e);
            return (code, o.ToString().Trim(), e.ToString());
        }
        string[] gen = ["generate", "--bundle", bundle.BundleDir, "--histories", bundle.Histories, "--no-progress-bar", "--shard-count", "2"];
        var s0 = await Cli([.. gen, "--shard-index", "0"]);
        Assert.True(s0.Code == 0, s0.Err);
        Assert.Contains("shard 1 of 2 has not started", (await Cli("publish", "--generation", s0.Out)).Err);
        Assert.Equal(0, (await Cli([.. gen, "--shard-index", "1"])).Code);
        var pub = await Cli("publish", "--generation", s0.Out);
        Assert.True(pub.Code == 0, pub.Err);
        Assert.Contains("(19 users", pub.Err);
    }
}
