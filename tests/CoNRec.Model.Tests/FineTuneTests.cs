using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Bundle;
using CoNRec.Model.Generation;
using CoNRec.Model.Prompting;
using CoNRec.Model.Training;
using CoNRec.Testing;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace CoNRec.Model.Tests;

/// <summary>
/// Fine-tuning a tiny Qwen3 (hidden 32, 2 layers) on toy tasks whose answers are functions of the prompt, then
/// generating from the written bundle exactly as the batch generator does.
/// </summary>
public sealed class FineTuneTests(ITestOutputHelper output) : IDisposable
{
    private const int Levels = 3, Codes = 4;
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly SidLayout Layout = new(Levels, Codes);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string BundleDir => _dir.File("bundle");

    private static FineTuneOptions Tiny(params FineTuneStage[] stages) => new()
    {
        HiddenSize = 32, Layers = 2, Heads = 2, KvHeads = 1, HeadDim = 16, IntermediateSize = 64,
        BatchSize = 32, LearningRate = 1e-2, WarmupRatio = 0.05, AlignmentWeight = 0, Seed = 7, Stages = stages,
        Patience = 1000, // these tests count steps; early stopping has its own test
    };

    private (Codebook Codebook, string Path, Dictionary<string, ulong> Catalog) MakeCatalog(int count, int seed) => ToyData.Catalog(_dir, count, seed);

    /// <summary>Hand-written rendering of a SID, independent of SidTokenMap: &lt;a_x&gt;&lt;b_y&gt;&lt;c_z&gt;.</summary>
    private static string Sid(ulong packed)
    {
        var c = new uint[Levels];
        Layout.Unpack(packed, c);
        return $"<a_{c[0]}><b_{c[1]}><c_{c[2]}>";
    }

    private static List<SftExample> CopyLastUsers(int count, IReadOnlyList<string> items, Random rng, string prefix) => ToyData.CopyLastUsers(count, items, rng, prefix);

    [Fact]
    public void Learns_to_predict_the_last_negative_and_the_bundle_beam_search_ranks_it_first()
    {
        var (codebook, path, catalog) = MakeCatalog(24, seed: 1);
        var items = catalog.Keys.ToList();
        var rng = new Random(2);
        var train = CopyLastUsers(384, items, rng, "u");
        var heldOut = CopyLastUsers(40, items, rng, "h");
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 12));

        using var result = FineTuner.Train(BundleDir, codebook, path, catalog, train, heldOut, [], options, null);

        var losses = result.Stages[0].StepLosses;
        Assert.Equal(12 * 12, losses.Count); // 384 sequences / batch 32 = 12 steps per epoch
        double first = losses.Take(3).Average(), last = losses.TakeLast(3).Average();
        Assert.True(last < 0.5 * first, $"loss fell from {first:F3} to {last:F3}, less than half");
        Assert.True(result.Stages[0].ValidationLoss < 0.5 * first, $"validation loss {result.Stages[0].ValidationLoss:F3} vs initial {first:F3}");

        var bundle = ModelBundle.Load(BundleDir);
        using var model = bundle.LoadModel(torch.CPU);
        using var trie = bundle.BuildTrie(model.Config.VocabSize, torch.CPU);
        var builder = bundle.CreatePromptBuilder();
        var prompts = heldOut.Select(e => builder.Build(e.History, e.At).TokenIds.ToArray()).ToList();
        var search = new ConstrainedBeamSearch(model, trie, new BeamSearchOptions { BeamWidth = 5, TopK = 5 }, bundle.PadTokenId, torch.CPU);
        var generated = search.Generate(prompts);
        int hits = heldOut.Select((e, i) => generated[i][0].Sid == catalog[e.TargetItems[0]] ? 1 : 0).Sum();
        output.WriteLine($"loss {first:F3} -> {last:F3}, validation {result.Stages[0].ValidationLoss:F3}, top-1 hits {hits}/40, {result.WallTime.TotalSeconds:F1} s");
        Assert.True(hits >= 32, $"top-1 is the last negative for {hits} of 40 held-out users; expected at least 32");
    }

    [Fact]
    public void Alignment_learns_to_pick_the_disliked_category_above_chance()
    {
        // Catalog = all 64 SIDs; disliked items are exactly those whose first code is 0.
        var (codebook, path, catalog) = MakeCatalog(64, seed: 3);
        var bad = catalog.Where(p => p.Value >> (2 * Layout.BitsPerCode) == 0).Select(p => p.Key).ToList();
        var good = catalog.Keys.Except(bad).ToList();
        Assert.Equal(16, bad.Count);
        var rng = new Random(4);
        var alignment = Enumerable.Range(0, 300)
            .Select(_ => new AlignmentExample(bad[rng.Next(bad.Count)], good.OrderBy(_ => rng.Next()).Take(3).ToList())).ToList();
        var train = CopyLastUsers(16, catalog.Keys.ToList(), rng, "u");
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 6)) with { AlignmentWeight = 15, AlignmentHoldout = 0.2 };

        using var result = FineTuner.Train(BundleDir, codebook, path, catalog, train, [], alignment, options, null);

        Assert.Equal(60, result.AlignmentHeldOut);
        Assert.Equal(15 * 16, result.Stages[0].AlignmentSequences);
        output.WriteLine($"alignment accuracy {result.InitialAlignmentAccuracy:F2} -> {result.AlignmentAccuracy:F2}, {result.WallTime.TotalSeconds:F1} s");
        Assert.True(result.AlignmentAccuracy > 0.6, $"alignment accuracy {result.AlignmentAccuracy:F2}; chance is 0.25");
        Assert.True(result.AlignmentAccuracy > result.InitialAlignmentAccuracy + 0.2,
            $"accuracy went from {result.InitialAlignmentAccuracy:F2} to {result.AlignmentAccuracy:F2}");
    }

    [Fact]
    public void Progressive_stages_change_the_prompt_context_and_the_bundle_reloads_with_the_same_logits()
    {
        var (codebook, path, catalog) = MakeCatalog(12, seed: 5);
        var at = T0.AddDays(10);
        // First user: an old negative (5 days), a recent one (1 day) and a positive (2 days) before 'at'.
        var first = new SftExample(new UserHistory("u0",
            [new HistoryEvent("i0", at.AddDays(-5), null), new HistoryEvent("i1", at.AddDays(-1), null)],
            [new HistoryEvent("i2", at.AddDays(-2), "click")]), at, ["i3"]);
        // Second user has only an old negative: no prompt in the 3-day stage.
        var old = new SftExample(new UserHistory("u1", [new HistoryEvent("i4", at.AddDays(-6), null)], []), at, ["i5"]);
        var rng = new Random(6);
        var train = new List<SftExample> { first, old };
        train.AddRange(CopyLastUsers(30, catalog.Keys.ToList(), rng, "r"));
        var options = Tiny(
            new FineTuneStage(PromptContext.RecentNegatives, Epochs: 1, RecentDays: 3),
            new FineTuneStage(PromptContext.AllNegatives, Epochs: 1),
            new FineTuneStage(PromptContext.NegativesAndPositives, Epochs: 1));

        using var result = FineTuner.Train(BundleDir, codebook, path, catalog, train, [], [], options, null);

        string i0 = Sid(catalog["i0"]), i1 = Sid(catalog["i1"]), i2 = Sid(catalog["i2"]);
        Assert.Equal([PromptContext.RecentNegatives, PromptContext.AllNegatives, PromptContext.NegativesAndPositives], result.Stages.Select(s => s.Context));
        Assert.Equal($"<|im_start|>{i1}<|im_end|>", result.Stages[0].SamplePrompt);
        Assert.Equal($"<|im_start|>{i0}{i1}<|im_end|>", result.Stages[1].SamplePrompt);
        Assert.Equal($"<|im_start|>{i0}{i1}+{i2}<|im_end|>", result.Stages[2].SamplePrompt);
        // The other users' negatives are hours before their own 'At', so only u1 lacks a 3-day prompt.
        Assert.Equal([1, 0, 0], result.Stages.Select(s => s.SkippedExamples));
        Assert.Equal([31, 32, 32], result.Stages.Select(s => s.Sequences));

        // The bundle's prompt is the last stage's, so generation builds exactly the last stage's training prompts.
        var bundle = ModelBundle.Load(BundleDir);
        Assert.Equal(FineTuner.StageTemplate(options.Stages[2], options), bundle.Prompt);
        Assert.Equal(catalog.OrderBy(p => p.Key), bundle.Catalog.OrderBy(p => p.Key));
        Assert.Equal(codebook.ContentHash, bundle.Codebook.ContentHash);
        var prompt = bundle.CreatePromptBuilder().Build(first.History, at);
        Assert.Equal(result.Stages[2].SamplePrompt, prompt.Text);

        using var reloaded = bundle.LoadModel(torch.CPU);
        int[] tokens = [.. prompt.TokenIds, bundle.SidTokens.TokenId(0, 1)];
        var expected = ModelHarness.Logits(result.Model, tokens);
        var actual = ModelHarness.Logits(reloaded, tokens);
        for (int i = 0; i < tokens.Length; i++) ModelHarness.AssertClose(expected[i], actual[i], 0, $"position {i}");
        Assert.Equal(result.VocabSize, reloaded.Config.VocabSize);
        Assert.Equal(0, reloaded.Config.VocabSize % 64);

        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(BundleDir, FineTuner.TrainingReportFile)));
        var stages = report.RootElement.GetProperty("stages");
        Assert.Equal(3, stages.GetArrayLength());
        Assert.Equal("negatives_and_positives", stages[2].GetProperty("context").GetString());
        Assert.Equal(result.Stages[1].StepLosses.Count, stages[1].GetProperty("step_losses").GetArrayLength());
    }

    private sealed class Recorder : IProgress<TrainProgress>
    {
        public List<TrainProgress> Reports { get; } = [];
        public void Report(TrainProgress value) => Reports.Add(value);
    }

    [Fact]
    public void Same_seed_gives_identical_losses_and_progress_counts_every_step()
    {
        var (codebook, path, catalog) = MakeCatalog(16, seed: 9);
        var train = CopyLastUsers(70, catalog.Keys.ToList(), new Random(10), "u");
        var options = Tiny(new FineTuneStage(PromptContext.AllNegatives, Epochs: 1), new FineTuneStage(PromptContext.NegativesAndPositives, Epochs: 2));
        var recorder = new Recorder();
        using var a = FineTuner.Train(_dir.File("a"), codebook, path, catalog, train, [], [], options, recorder);
        using var b = FineTuner.Train(_dir.File("b"), codebook, path, catalog, train, [], [], options, null);
        using var c = FineTuner.Train(_dir.File("c"), codebook, path, catalog, train, [], [], options with { Seed = 8 }, null);

        var lossesA = a.Stages.SelectMany(s => s.StepLosses).ToList();
        Assert.Equal(lossesA, b.Stages.SelectMany(s => s.StepLosses));
        Assert.NotEqual(lossesA, c.Stages.SelectMany(s => s.StepLosses));
        // 70 sequences in batches of 32 = 3 steps per epoch; 1 + 2 epochs.
        Assert.Equal(9, recorder.Reports.Count);
        Assert.Equal(Enumerable.Range(1, 9), recorder.Reports.Select(r => r.Step));
        Assert.All(recorder.Reports, r => Assert.Equal(9, r.TotalSteps));
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 1, 1], recorder.Reports.Select(r => r.Stage));
        Assert.Equal(lossesA, recorder.Reports.Select(r => r.Loss));
        Assert.Equal(2, a.Stages[1].EpochLosses.Count);
        Assert.Equal(a.Stages[1].StepLosses.Take(3).Average(), a.Stages[1].EpochLosses[0], 12);
    }

    [Fact]
    public void Options_validation_names_the_field_and_its_limit()
    {
        var ok = new FineTuneOptions();
        ok.Validate();
        (FineTuneOptions Options, string Message)[] cases =
        [
            (ok with { BatchSize = 0 }, "BatchSize = 0 must be in [1, 65536]"),
            (ok with { LearningRate = 0 }, "LearningRate = 0 must be in (0, 1]"),
            (ok with { LearningRate = double.NaN }, "LearningRate = NaN must be in (0, 1]"),
            (ok with { Heads = 4, KvHeads = 3 }, "Heads (4) must be a multiple of KvHeads (3)"),
            (ok with { HeadDim = 15 }, "HeadDim = 15 must be even"),
            (ok with { Stages = [] }, "Stages must list at least one stage"),
            (ok with { Stages = [new(PromptContext.AllNegatives), new(PromptContext.AllNegatives, Epochs: 0)] }, "Stages[1].Epochs = 0 must be in [1, 10000]"),
            (ok with { Stages = [new(PromptContext.RecentNegatives, RecentDays: 0)] }, "Stages[0].RecentDays = 0 must be in (0, 36500]"),
            (ok with { AlignmentWeight = -1 }, "AlignmentWeight = -1 must be in [0, 100]"),
            (ok with { AlignmentHoldout = 0.95 }, "AlignmentHoldout = 0.95 must be in [0, 0.9]"),
            (ok with { MaxPromptTokens = 2 }, "MaxPromptTokens = 2 must be in [4, 1048576]"),
        ];
        foreach (var (options, message) in cases)
        {
            var e = Assert.Throws<ArgumentException>(options.Validate);
            Assert.Contains(message, e.Message);
        }
    }

    [Fact]
    public void Train_refuses_a_codebook_file_that_is_not_the_codebook_and_a_stage_without_prompts()
    {
        var (codebook, path, catalog) = MakeCatalog(8, seed: 7);
        var other = Codebook.Create(Levels, Codes, 1, new float[Levels * Codes]);
        string otherPath = _dir.File("other.safetensors");
        File.WriteAllBytes(otherPath, other.SourceBytes.ToArray());
        var user = new SftExample(new UserHistory("u", [new HistoryEvent("i0", T0, null)], []), T0.AddDays(5), ["i1"]);
        var options = Tiny(new FineTuneStage(PromptContext.RecentNegatives, RecentDays: 3));

        var e = Assert.Throws<ArgumentException>(() => FineTuner.Train(BundleDir, codebook, otherPath, catalog, [user], [], [], options));
        Assert.Contains("is not the codebook passed in", e.Message);
        // The only negative is 5 days old: the 3-day stage has nothing to train on.
        e = Assert.Throws<ArgumentException>(() => FineTuner.Train(BundleDir, codebook, path, catalog, [user], [], [], options));
        Assert.Contains("stage 0 (recent_negatives): none of the 1 training examples", e.Message);
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_decays_by_cosine_to_the_floor()
    {
        var o = new FineTuneOptions { LearningRate = 1e-3, MinLearningRateRatio = 0.1 };
        Assert.Equal(0.5e-3, FineTuner.LearningRateAt(0, 10, 2, o), 12);
        Assert.Equal(1e-3, FineTuner.LearningRateAt(1, 10, 2, o), 12);
        Assert.Equal(1e-3, FineTuner.LearningRateAt(2, 10, 2, o), 12);
        // step 5: progress 3/7; 1e-4 + 0.9e-3 · 0.5 · (1 + cos(3π/7)) = 1e-4 + 0.9e-3 · 0.611260 = 6.50134e-4
        Assert.Equal(6.50134e-4, FineTuner.LearningRateAt(5, 10, 2, o), 8);
        Assert.Equal(1e-4, FineTuner.LearningRateAt(9, 10, 2, o), 12);
    }
}
