using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Batch.Tests;

/// <summary>The `load` / `publish` / `generations` command lines against a real redis-server.</summary>
public sealed class LoadCommandTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = "cli" + Guid.NewGuid().ToString("N")[..6];

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await BatchCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string[] LoadArgs(TempDir dir, string predictions = "predictions.jsonl", params string[] extra) =>
        ["load", "--redis", redis.Server.Endpoint, "--key-prefix", _prefix, "--codebook", dir.File("codebook.safetensors"),
         "--catalog", dir.File("catalog.jsonl"), "--predictions", dir.File(predictions), .. extra];

    [Fact]
    public async Task Load_prints_the_new_generation_id_and_publishes_it()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 25, Items: 60));
        var (code, stdout, stderr) = await RunAsync(LoadArgs(dir));
        Assert.True(code == 0, stderr);
        var id = stdout.Trim();
        Assert.Matches(@"^\d{8}T\d{6}Z-[0-9a-f]{6}$", id);
        Assert.Contains("25 users, 60 items", stderr);
        Assert.Contains("users/s", stderr);
        using var mux = redis.Connect();
        Assert.Equal(id, (await new GenerationRegistry(mux.GetDatabase(), new RedisKeys(_prefix), new StoreOptions()).GetActiveIdAsync()));
    }

    [Fact]
    public async Task No_publish_leaves_the_active_generation_and_publish_switches_later()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 5, Items: 10));
        var first = (await RunAsync(LoadArgs(dir))).Out.Trim();
        var (code, second, _) = await RunAsync(LoadArgs(dir, extra: "--no-publish"));
        Assert.Equal(0, code);
        using var mux = redis.Connect();
        var registry = new GenerationRegistry(mux.GetDatabase(), new RedisKeys(_prefix), new StoreOptions());
        Assert.Equal(first, await registry.GetActiveIdAsync());
        var published = await RunAsync("publish", "--redis", redis.Server.Endpoint, "--key-prefix", _prefix, "--generation", second.Trim());
        Assert.Equal(0, published.Code);
        Assert.Equal(second.Trim(), await registry.GetActiveIdAsync());
        var list = await RunAsync("generations", "--redis", redis.Server.Endpoint, "--key-prefix", _prefix);
        Assert.Contains($"{second.Trim()}", list.Out);
        Assert.Contains("<- active", list.Out);
        Assert.Contains("retired", list.Out);
    }

    [Fact]
    public async Task A_malformed_line_fails_with_its_line_number_and_nothing_is_published()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 10, Items: 20));
        var good = (await RunAsync(LoadArgs(dir))).Out.Trim();
        var lines = File.ReadAllLines(dir.File("predictions.jsonl"));
        lines[6] = "{\"user_id\": \"u6\", \"sids\": [[1, 2, 99]]}";
        File.WriteAllLines(dir.File("bad.jsonl"), lines);
        var (code, stdout, stderr) = await RunAsync(LoadArgs(dir, "bad.jsonl"));
        Assert.Equal(BatchCli.Failed, code);
        Assert.Equal("", stdout);
        Assert.Contains("bad.jsonl:7: 'sids[0][2]' = 99 is out of range; codes must be < 32", stderr);
        using var mux = redis.Connect();
        Assert.Equal(good, await new GenerationRegistry(mux.GetDatabase(), new RedisKeys(_prefix), new StoreOptions()).GetActiveIdAsync());
    }

    [Theory]
    [InlineData("load --codebook x", "Option '--catalog' is required.")]
    [InlineData("load --codebook x --catalog y --predictions z --colour red", "Unrecognized command or argument '--colour'")]
    [InlineData("frobnicate", "Unrecognized command or argument 'frobnicate'")]
    [InlineData("sample --out /tmp/x --codes 0", "option --codes = 0 must be in [1, 1048576]")]
    [InlineData("generate --bundle b --histories h --device tpu", "Argument 'tpu' not recognized. Must be one of")]
    [InlineData("load --codebook x --catalog y --predictions z --as-of yesterday", "option --as-of = 'yesterday' must be an ISO-8601 time")]
    [InlineData("eval --resamples 0", "option --resamples = 0 must be in [1, 100000]")]
    public async Task Bad_command_lines_are_usage_errors(string commandLine, string message)
    {
        var (code, stdout, stderr) = await RunAsync(commandLine.Split(' '));
        Assert.Equal(BatchCli.Usage, code);
        Assert.Contains(message, stderr);
        Assert.Contains("--help", stderr); // a pointer to the generated help
        Assert.DoesNotContain("   at ", stderr); // no stack trace
        Assert.Equal("", stdout);
    }

    [Fact]
    public async Task Help_lists_every_option_each_command_reads()
    {
        // The help is generated from the options themselves: what eval accepts is what it documents.
        var (code, stdout, _) = await RunAsync("eval", "--help");
        Assert.Equal(BatchCli.Ok, code);
        foreach (var option in new[] { "--epochs", "--lr", "--hidden", "--users", "--split", "--test-days", "--window-days", "--validation-days", "--resamples", "--skip-model", "--rqvae-epochs", "--disambiguate" })
            Assert.Contains(option, stdout);
        var generate = await RunAsync("generate", "--help");
        foreach (var option in new[] { "--recent-negatives", "--recent-positives", "--as-of", "--shard-index", "--max-bad-fraction" })
            Assert.Contains(option, generate.Out);
    }

    [Fact]
    public async Task A_malformed_codebook_is_reported_and_nothing_is_written()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 3, Items: 3));
        var bytes = File.ReadAllBytes(dir.File("codebook.safetensors"));
        File.WriteAllBytes(dir.File("codebook.safetensors"), bytes[..(bytes.Length - 5)]);
        var (code, _, stderr) = await RunAsync(LoadArgs(dir));
        Assert.Equal(BatchCli.Failed, code);
        Assert.Contains("truncated", stderr);
    }
}

/// <summary>`load`, `publish` and `generations` against a redis-server whose only listener is TLS with client certificates.</summary>
public sealed class TlsCommandTests : IDisposable
{
    private readonly TlsMaterial _tls = new() { RequireClientCert = true };
    private readonly RedisServerProcess _redis;
    private readonly string _prefix = "clitls" + Guid.NewGuid().ToString("N")[..6];

    public TlsCommandTests() => _redis = new RedisServerProcess(tls: _tls).Start();

    public void Dispose()
    {
        _redis.Dispose();
        _tls.Dispose();
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await BatchCli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Load_and_publish_over_tls_with_a_client_certificate()
    {
        using var dir = TempDir.WithSample(new SampleData.Spec(Users: 7, Items: 20));
        string[] tls = ["--redis", _redis.Endpoint, "--redis-ca", _tls.CaCert, "--redis-cert", _tls.ClientCert, "--redis-key", _tls.ClientKey, "--key-prefix", _prefix];
        var load = await RunAsync(["load", .. tls, "--codebook", dir.File("codebook.safetensors"), "--catalog", dir.File("catalog.jsonl"),
            "--predictions", dir.File("predictions.jsonl"), "--no-publish"]);
        Assert.True(load.Code == 0, load.Err);
        Assert.Contains("over TLS", load.Err);
        var publish = await RunAsync(["publish", .. tls, "--generation", load.Out.Trim()]);
        Assert.True(publish.Code == 0, publish.Err);
        var list = await RunAsync(["generations", .. tls]);
        Assert.Contains(load.Out.Trim() + " ", list.Out);
        Assert.Contains("<- active", list.Out);

        // Without the client certificate the server refuses: a store error (exit 1) in one line, not a hang or a trace.
        var refused = await RunAsync("generations", "--redis", _redis.Endpoint, "--redis-ca", _tls.CaCert, "--key-prefix", _prefix);
        Assert.Equal(1, refused.Code);
        Assert.Contains("cannot reach Redis", refused.Err);
        Assert.DoesNotContain("   at ", refused.Err);
        // A missing CA file is named.
        var missing = await RunAsync("generations", "--redis", _redis.Endpoint, "--redis-ca", "/nonexistent/ca.crt");
        Assert.Equal(1, missing.Code);
        Assert.Contains("/nonexistent/ca.crt", missing.Err);
        // A certificate without its key is refused before connecting.
        var half = await RunAsync("generations", "--redis", _redis.Endpoint, "--redis-ca", _tls.CaCert, "--redis-cert", _tls.ClientCert);
        Assert.Equal(1, half.Code);
        Assert.Contains("set both or neither", half.Err);
    }
}
