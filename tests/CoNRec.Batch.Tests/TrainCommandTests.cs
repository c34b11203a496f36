using System.Text.Json;
using CoNRec.Batch.Experiment;
using CoNRec.Model.Checkpoint;
using CoNRec.Offline.Data;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Batch.Tests;

/// <summary>
/// `train` as an operator runs it: a synthetic dataset in the generic format, a bundle from scratch and one with LoRA
/// on the first as its base, and `generate` serving each of them into a real redis-server.
/// </summary>
[Collection(TrainCollection.Name)]
public sealed class TrainCommandTests(RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _prefix = "train" + Guid.NewGuid().ToString("N")[..6];

    public void Dispose() => _dir.Dispose();

    private static async Task<(int Code, string Out, string Err)> CliAsync(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = await BatchCli.RunAsync(args, o, e);
        return (code, o.ToString().Trim(), e.ToString());
    }

    // CI-sized: the smallest data and schedule that still exercise every stage (SFT, GRPO, LoRA).
    private static readonly string[] Small = ["--quick", "--stages", "sft,grpo", "--users", "120", "--items", "150", "--rqvae-epochs", "20", "--hidden", "32", "--grpo-steps", "3",
        "--grpo-prompts", "2", "--grpo-group", "4", "--no-progress-bar"];

    [Fact]
    public async Task Train_writes_bundles_that_generate_serves_from_scratch_and_with_lora_on_a_base()
    {
        string data = _dir.File("data");
        Assert.Equal(0, (await CliAsync("synth", "--out", data, "--users", "120", "--items", "150", "--days", "45")).Code);
        string histories = _dir.File("histories.jsonl");
        HistoryConversion.WriteJsonl(histories, DatasetFiles.Load(data).Interactions);

        string scratch = _dir.File("scratch");
        var trained = await CliAsync(["train", "--dataset", data, "--out", scratch, .. Small]);
        Assert.True(trained.Code == 0, trained.Err);
        Assert.Equal(Path.GetFullPath(scratch), trained.Out);
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(scratch, "training.json"))).RootElement;
        Assert.True(report.GetProperty("grpo_steps").GetArrayLength() > 0, "GRPO ran");
        Assert.True(File.Exists(Path.Combine(scratch, "model", Qwen3Checkpoint.SingleFile)));

        string lora = _dir.File("lora");
        var adapted = await CliAsync(["train", "--dataset", data, "--out", lora, "--base", Path.Combine(scratch, "model"), "--lora-r", "4", "--seed", "9", .. Small]);
        Assert.True(adapted.Code == 0, adapted.Err);
        Assert.True(File.Exists(Path.Combine(lora, "model", LoraAdapter.ConfigFile)));
        Assert.False(File.Exists(Path.Combine(lora, "model", Qwen3Checkpoint.SingleFile))); // the base is referenced, not copied

        foreach (var bundle in new[] { scratch, lora })
        {
            var output = Path.Combine(bundle, "predictions.jsonl");
            var generated = await CliAsync("generate", "--bundle", bundle, "--histories", histories, "--redis", redis.Server.Endpoint, "--key-prefix", _prefix,
                "--output", output, "--no-progress-bar");
            Assert.True(generated.Code == 0, generated.Err);
            var lines = File.ReadAllLines(output);
            Assert.True(lines.Length > 50, $"{bundle}: {lines.Length} users generated");
            Assert.All(lines.Take(20), l => Assert.True(JsonDocument.Parse(l).RootElement.GetProperty("sids").GetArrayLength() > 0));
        }

        // Bad input names the option.
        var bad = await CliAsync(["train", "--dataset", data, "--out", _dir.File("bad"), "--base", _dir.File("nope"), .. Small]);
        Assert.Equal(1, bad.Code);
        Assert.Contains("is not a directory", bad.Err);
        var badTargets = await CliAsync(["train", "--dataset", data, "--out", _dir.File("bad2"), "--lora-targets", "q_proj,wrong", .. Small]);
        Assert.Equal(2, badTargets.Code);
        Assert.Contains("wrong", badTargets.Err);
    }

    [Fact]
    public async Task Train_help_lists_every_training_option()
    {
        var help = await CliAsync("train", "--help");
        Assert.Equal(0, help.Code);
        foreach (var option in new[] { "--dataset", "--movielens", "--base", "--out", "--stages", "--device", "--lora-r", "--lora-alpha", "--rslora", "--lora-dropout",
                     "--lora-targets", "--grpo-steps", "--grpo-group", "--grpo-gamma", "--grpo-lr", "--grpo-temperature", "--patience", "--epochs", "--lr", "--hidden" })
            Assert.Contains(option, help.Out);
        var eval = await CliAsync("eval", "--help");
        Assert.Contains("--ablation", eval.Out);
    }
}

/// <summary>
/// Training keeps both cores of a 2-core CI box busy for ~10 s; run alone so the other classes' Redis calls keep their
/// 2 s client timeouts (a publish transaction in ServedRuleParityTests timed out beside it, 3 runs in 23).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TrainCollection
{
    public const string Name = "train (runs alone)";
}
