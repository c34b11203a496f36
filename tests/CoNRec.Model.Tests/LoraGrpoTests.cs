using System.Text.Json;
using System.Text.RegularExpressions;
using CoNRec.Core;
using CoNRec.Model.Bundle;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Lora;
using CoNRec.Model.Prompting;
using CoNRec.Model.Qwen3;
using CoNRec.Model.Training;
using CoNRec.Testing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace CoNRec.Model.Tests;

/// <summary>The GRPO objective, constrained sampling, GRPO learning on a toy reward, and LoRA from a base in PEFT's format.</summary>
public sealed class LoraGrpoTests(ITestOutputHelper output) : IDisposable
{
    private const int Levels = ToyData.Levels, Codes = ToyData.Codes;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static FineTuneOptions Tiny(params FineTuneStage[] stages) => new()
    {
        HiddenSize = 32, Layers = 2, Heads = 2, KvHeads = 1, HeadDim = 16, IntermediateSize = 64,
        BatchSize = 32, LearningRate = 1e-2, WarmupRatio = 0.05, AlignmentWeight = 0, Seed = 7, Stages = stages, Patience = 1000,
    };

    private (Codebook Codebook, string Path, Dictionary<string, ulong> Catalog) MakeCatalog(int count, int seed, string name) => ToyData.Catalog(_dir, count, seed, name);

    private static List<SftExample> CopyLastUsers(int count, IReadOnlyList<string> items, Random rng, string prefix) => ToyData.CopyLastUsers(count, items, rng, prefix);

    [Fact]
    public void Grpo_loss_matches_a_hand_computed_group()
    {
        // One group of G = 4 outputs, L = 2 tokens each. Rewards 1, 0, 0, 3: mean 1, sample std √2.
        double[] rewards = [1, 0, 0, 3];
        var advantages = GrpoLoss.Advantages(rewards, 4);
        double std = Math.Sqrt(2);
        double[] expectedA = [0, -1 / (std + 1e-4), -1 / (std + 1e-4), 2 / (std + 1e-4)];
        for (int i = 0; i < 4; i++) Assert.Equal(expectedA[i], advantages[i], 5);

        double[,] lp = { { -1.0, -0.5 }, { -2.0, -1.0 }, { -0.3, -0.2 }, { -1.5, -0.1 } };
        double[,] old = { { -1.0, -0.7 }, { -1.5, -1.0 }, { -0.6, -0.2 }, { -1.0, -0.4 } };
        double[,] rf = { { -1.2, -0.5 }, { -2.0, -0.8 }, { -0.3, -0.5 }, { -1.4, -0.1 } };
        const double eps = 0.2, beta = 0.1;
        double loss = 0, kl = 0;
        int clipped = 0;
        for (int i = 0; i < 4; i++)
        {
            double seq = 0;
            for (int t = 0; t < 2; t++)
            {
                double ratio = Math.Exp(lp[i, t] - old[i, t]);
                double a = advantages[i];
                double surrogate = Math.Min(ratio * a, Math.Clamp(ratio, 1 - eps, 1 + eps) * a);
                double d = rf[i, t] - lp[i, t];
                double k3 = Math.Exp(d) - d - 1;
                seq += -surrogate + (beta * k3);
                kl += k3;
                if ((ratio < 1 - eps && a < 0) || (ratio > 1 + eps && a > 0)) clipped++;
            }
            loss += seq / 2;
        }
        loss /= 4;
        Tensor T(double[,] v) => torch.tensor(v, ScalarType.Float32);
        var terms = GrpoLoss.Compute(T(lp), T(old), T(rf), torch.tensor(advantages), eps, beta);
        Assert.Equal(loss, terms.Loss.item<float>(), 4);
        Assert.Equal(kl / 8, terms.Kl, 4);
        Assert.Equal(clipped / 8.0, terms.ClipFraction, 6);
        Assert.True(clipped > 0, "the example must exercise clipping"); // row 4 token 2: ratio e^0.3 > 1.2 with A > 0
        // Equal rewards give zero advantages, not NaN.
        Assert.All(GrpoLoss.Advantages([0.5, 0.5, 0.5], 3), a => Assert.Equal(0f, a));
    }

    [Fact]
    public void Constrained_sampling_returns_only_catalog_sids_with_the_masked_distribution()
    {
        var (codebook, path, catalog) = MakeCatalog(20, seed: 5, name: "cb.safetensors");
        string bundle = _dir.File("sample-bundle");
        var items = catalog.Keys.ToList();
        var train = CopyLastUsers(64, items, new Random(1), "u");
        using var result = FineTuner.Train(bundle, codebook, path, catalog, train, [], [], Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 1)), null);
        var b = ModelBundle.Load(bundle);
        using var model = b.LoadModel(torch.CPU);
        using var trie = b.BuildTrie(model.Config.VocabSize, torch.CPU);
        var prompt = b.CreatePromptBuilder().Build(train[0].History, train[0].At).TokenIds.ToArray();
        const int n = 6000;
        using var generator = new torch.Generator(123);
        using var sampled = ConstrainedSampler.Sample(model, trie, Enumerable.Repeat(prompt, n).ToList(), b.PadTokenId, 1.0, generator);

        var catalogSids = catalog.Values.ToHashSet();
        Assert.All(sampled.Sids, s => Assert.Contains(s, catalogSids));
        // Expected probability of each SID seen: exp(Σ masked log-softmax) from a teacher-forced pass, independent of the sampler's loop.
        var firstIndex = new Dictionary<ulong, int>();
        for (int i = 0; i < n; i++) firstIndex.TryAdd(sampled.Sids[i], i);
        var distinct = firstIndex.Keys.ToList();
        using var rows = torch.tensor(distinct.Select(s => (long)firstIndex[s]).ToArray());
        using var masks = sampled.Allowed.index_select(0, rows);
        using var lp = PolicyLogProbs.Compute(model, Enumerable.Repeat(prompt, distinct.Count).ToList(), [.. distinct.Select(s => sampled.Tokens[firstIndex[s]])], b.PadTokenId, masks);
        var p = lp.sum([1]).exp().data<float>().ToArray();
        double seenMass = p.Sum();
        double chi2 = 0;
        for (int k = 0; k < distinct.Count; k++)
        {
            double observed = sampled.Sids.Count(s => s == distinct[k]), expected = n * p[k];
            chi2 += (observed - expected) * (observed - expected) / expected;
        }
        double rest = n * (1 - seenMass);
        if (rest > 1e-9) chi2 += rest; // unseen SIDs: observed 0
        int df = distinct.Count - (rest > 1e-9 ? 0 : 1);
        // Wilson-Hilferty: the chi-square critical value at p = 0.001.
        double z = 3.09, critical = df * Math.Pow(1 - (2.0 / (9 * df)) + (z * Math.Sqrt(2.0 / (9 * df))), 3);
        output.WriteLine($"{distinct.Count} distinct SIDs sampled, seen mass {seenMass:F4}, chi2 {chi2:F1} on {df} df, critical {critical:F1}");
        Assert.True(distinct.Count >= 5, "the distribution should be spread over several SIDs");
        Assert.True(chi2 < critical, $"chi-square {chi2:F1} exceeds {critical:F1} (df {df})");
    }

    [Fact]
    public void Grpo_raises_a_known_reward()
    {
        // Every user's future negative is the same item: the Eq. 6 reward of an output is its cosine to that item's SID.
        var (codebook, path, catalog) = MakeCatalog(30, seed: 9, name: "cb.safetensors");
        var items = catalog.Keys.ToList();
        var rng = new Random(3);
        var train = CopyLastUsers(96, items, rng, "u");
        var grpo = train.Select(e => new GrpoExample(e.History, e.At, "i0", ["i0"], [])).ToList();
        var val = CopyLastUsers(12, items, rng, "v").Select(e => new GrpoExample(e.History, e.At, "i0", ["i0"], [])).ToList();
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 1)) with
        {
            Grpo = new GrpoOptions
            {
                GroupSize = 8, PromptsPerStep = 4, LearningRate = 1e-2, Gamma = 0, EvalEvery = 10, Patience = 100, ValidationTopK = 5,
                Validation = GrpoValidation.Reward,
                Stages = [new GrpoStage(PromptContext.AllNegatives, Beta: 0.0, MaxSteps: 40)],
            },
        };
        using var result = FineTuner.Train(_dir.File("grpo-bundle"), codebook, path, catalog, train, [], [], options, null, grpo, val);
        var steps = result.GrpoSteps;
        double first = steps.Take(8).Average(s => s.RewardMean), last = steps.TakeLast(8).Average(s => s.RewardMean);
        output.WriteLine($"reward {first:F3} -> {last:F3} over {steps.Count} steps; validation {result.GrpoStages[0].InitialValidationReward:F3} -> {result.GrpoStages[0].BestValidationReward:F3}");
        Assert.True(last > first + 0.15, $"mean rollout reward rose only from {first:F3} to {last:F3}");
        Assert.True(result.GrpoStages[0].BestValidationReward > result.GrpoStages[0].InitialValidationReward + 0.05);
        Assert.All(steps, s => Assert.Equal(1.0, s.ValidShare));
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.File("grpo-bundle"), FineTuner.TrainingReportFile))).RootElement;
        Assert.Equal(steps.Count, report.GetProperty("grpo_steps").GetArrayLength());
        Assert.True(report.GetProperty("grpo_steps")[0].TryGetProperty("clip_fraction", out _));
    }

    [Fact]
    public void Lora_from_a_base_saves_a_peft_adapter_the_loader_merges_to_the_same_logits_and_leaves_the_base_alone()
    {
        // The base: a model trained here on another codebook and task (a stand-in for a pretrained LLM).
        var (cbA, pathA, catA) = MakeCatalog(24, seed: 1, name: "a.safetensors");
        string baseBundle = _dir.File("base");
        using (FineTuner.Train(baseBundle, cbA, pathA, catA, CopyLastUsers(96, catA.Keys.ToList(), new Random(2), "a"), [], [],
                   Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 2)), null)) { }
        string baseModel = Path.Combine(baseBundle, FineTuner.ModelDirectory);
        string baseWeights = Path.Combine(baseModel, Qwen3Checkpoint.SingleFile);
        var baseHash = Codebook.HashOf(File.ReadAllBytes(baseWeights));

        var (cbB, pathB, catB) = MakeCatalog(30, seed: 4, name: "b.safetensors");
        var itemsB = catB.Keys.ToList();
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 3)) with
        {
            BaseModel = baseModel, Lora = new LoraSettings { Rank = 4, Alpha = 8, UseRsLora = true, Dropout = 0.1 },
        };
        string bundle = _dir.File("lora");
        var train = CopyLastUsers(128, itemsB, new Random(5), "b");
        using var result = FineTuner.Train(bundle, cbB, pathB, catB, train, [], [], options, null);

        // PEFT's layout.
        string modelDir = Path.Combine(bundle, FineTuner.ModelDirectory);
        Assert.False(File.Exists(Path.Combine(modelDir, Qwen3Checkpoint.SingleFile))); // the base is referenced, not copied
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDir, LoraAdapter.ConfigFile))).RootElement;
        Assert.Equal("LORA", config.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", config.GetProperty("task_type").GetString());
        Assert.Equal(4, config.GetProperty("r").GetInt32());
        Assert.Equal(8, config.GetProperty("lora_alpha").GetDouble());
        Assert.True(config.GetProperty("use_rslora").GetBoolean());
        Assert.Equal(Path.GetFullPath(baseModel), config.GetProperty("base_model_name_or_path").GetString());
        Assert.Equal(7, config.GetProperty("target_modules").GetArrayLength());
        var tokenIds = config.GetProperty("trainable_token_indices").GetProperty("embed_tokens").EnumerateArray().Select(e => e.GetInt32()).ToList();
        Assert.Equal(Levels * Codes, tokenIds.Count);
        var weights = SafeTensorsFile.Load(Path.Combine(modelDir, LoraAdapter.WeightsFile));
        var pattern = new Regex(@"^base_model\.model\.model\.layers\.(\d+)\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.lora_(A|B)\.weight$");
        Assert.Equal(2 * 7 * 2 + 1, weights.Tensors.Count); // 2 layers × 7 modules × (A, B) + the token rows
        foreach (var (name, info) in weights.Tensors)
        {
            if (name == PeftAdapterWriter.TokenDeltaKey) { Assert.Equal(new long[] { tokenIds.Count, 32 }, info.Shape); continue; }
            var m = pattern.Match(name);
            Assert.True(m.Success, name);
            if (m.Groups[5].Value == "A") Assert.Equal(4, info.Shape[0]); else Assert.Equal(4, info.Shape[1]);
        }

        // The loader (the generator's path) merges the adapter into the base: same logits as the model as trained.
        var b = ModelBundle.Load(bundle);
        using var loaded = b.LoadModel(torch.CPU);
        var prompts = train.Take(6).Select(e => b.CreatePromptBuilder().Build(e.History, e.At).TokenIds.ToArray()).ToList();
        foreach (var prompt in prompts)
        {
            using var ids = torch.tensor(prompt.Select(x => (long)x).ToArray()).unsqueeze(0);
            using var pos = torch.arange(prompt.Length, dtype: ScalarType.Int64).unsqueeze(0);
            using var mask = AttentionMasks.Build(torch.ones([1, prompt.Length], ScalarType.Bool), prompt.Length, ScalarType.Float32);
            using var _ = torch.no_grad();
            result.Model.eval();
            using var trained = result.Model.Forward(ids, pos, mask);
            using var merged = loaded.Forward(ids, pos, mask);
            double diff = (trained - merged).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"merged logits differ by {diff}");
        }
        Assert.Equal(baseHash, Codebook.HashOf(File.ReadAllBytes(baseWeights))); // the base file was not touched
        // LoRA actually trained (B moved off zero), and training changed the model's answers relative to the base.
        Assert.True(result.TrainableParameters < result.ParameterCount / 2, $"{result.TrainableParameters} trainable of {result.ParameterCount}");
        using var trie = b.BuildTrie(loaded.Config.VocabSize, torch.CPU);
        var search = new ConstrainedBeamSearch(loaded, trie, new BeamSearchOptions { BeamWidth = 4, TopK = 4 }, b.PadTokenId, torch.CPU);
        Assert.All(search.Generate(prompts), g => Assert.All(g, s => Assert.Contains(s.Sid, catB.Values)));
    }

    [Fact]
    public void Sft_stops_on_validation_and_keeps_its_best_epoch()
    {
        var (codebook, path, catalog) = MakeCatalog(24, seed: 1, name: "cb.safetensors");
        var items = catalog.Keys.ToList();
        var rng = new Random(8);
        // Random targets: nothing generalises, so validation loss turns up after a few epochs of memorising.
        var train = CopyLastUsers(64, items, rng, "u").Select(e => e with { TargetItems = [items[rng.Next(items.Count)]] }).ToList();
        var val = CopyLastUsers(32, items, rng, "v").Select(e => e with { TargetItems = [items[rng.Next(items.Count)]] }).ToList();
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 40)) with { Patience = 2, LearningRate = 2e-2 };
        using var result = FineTuner.Train(_dir.File("es"), codebook, path, catalog, train, val, [], options, null);
        var stage = result.Stages[0];
        output.WriteLine($"epochs run {result.EpochsRun[0]}; validation by epoch {string.Join(", ", stage.EpochValidationLosses.Select(v => v.ToString("F3")))}");
        Assert.True(result.EpochsRun[0] < 40, "early stopping never fired");
        Assert.Equal(stage.EpochValidationLosses.Min(), stage.ValidationLoss!.Value, 3); // the kept weights are the best epoch's
    }
}
