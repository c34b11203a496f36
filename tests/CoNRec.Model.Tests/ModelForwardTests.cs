using CoNRec.Model.Checkpoint;
using CoNRec.Model.Qwen3;
using CoNRec.Testing;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace CoNRec.Model.Tests;

public class ModelForwardTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Logits_match_an_independent_double_precision_reference(bool tied, bool ropeParameters)
    {
        using var dir = new TempDir();
        var config = TinyCheckpoint.Config(tied: tied, theta: 1000);
        var weights = TinyCheckpoint.Write(dir.Path, config, seed: 3, ropeParameters: ropeParameters);
        using var model = Qwen3Checkpoint.Load(dir.Path);
        var tokens = ModelHarness.RandomTokens(new Random(5), 9, config.VocabSize);

        var expected = ReferenceQwen3.Logits(config, weights, tokens);
        var actual = ModelHarness.Logits(model, tokens);
        for (int i = 0; i < tokens.Length; i++)
            ModelHarness.AssertClose([.. expected[i].Select(x => (float)x)], actual[i], 1e-4, $"logits at position {i}");
    }

    [Fact]
    public void Kv_cache_incremental_decoding_equals_full_recomputation()
    {
        using var dir = new TempDir();
        var config = TinyCheckpoint.Config();
        TinyCheckpoint.Write(dir.Path, config, seed: 11);
        using var model = Qwen3Checkpoint.Load(dir.Path);
        var rng = new Random(2);
        int[][] prompts = [ModelHarness.RandomTokens(rng, 6, config.VocabSize), ModelHarness.RandomTokens(rng, 10, config.VocabSize)];
        int[][] continuation = [ModelHarness.RandomTokens(rng, 3, config.VocabSize), ModelHarness.RandomTokens(rng, 3, config.VocabSize)];

        // Incremental: prefill the left-padded batch, then feed one token per step through the cache.
        using var _ = torch.no_grad();
        int t = 10;
        var ids = new long[2 * t]; var valid = new bool[2 * t];
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < prompts[r].Length; j++) { ids[r * t + t - prompts[r].Length + j] = prompts[r][j]; valid[r * t + t - prompts[r].Length + j] = true; }
        var validT = torch.tensor(valid, [2, t]);
        using var cache = new KVCache(config, 2, t + 3, ScalarType.Float32, torch.CPU);
        model.Forward(torch.tensor(ids, [2, t]), AttentionMasks.PrefillPositions(validT), AttentionMasks.Build(validT, t, ScalarType.Float32), cache);
        var pos = validT.to_type(ScalarType.Int64).sum(1);
        var keyValid = validT;
        for (int step = 0; step < 3; step++)
        {
            keyValid = torch.cat([keyValid, torch.ones([2, 1], ScalarType.Bool)], 1);
            var tok = torch.tensor(new long[] { continuation[0][step], continuation[1][step] }, [2, 1]);
            var logits = model.Forward(tok, pos.unsqueeze(1), AttentionMasks.Build(keyValid, 1, ScalarType.Float32), cache).squeeze(1);
            pos = pos + 1;
            for (int r = 0; r < 2; r++)
            {
                var full = ModelHarness.Logits(model, [.. prompts[r], .. continuation[r].Take(step + 1)]);
                ModelHarness.AssertClose(full[^1], logits[r].data<float>().ToArray(), 1e-4, $"row {r} step {step}");
            }
        }
        Assert.Equal(t + 3, cache.Length);
    }

    [Fact]
    public void Batched_with_left_padding_equals_unbatched()
    {
        using var dir = new TempDir();
        var config = TinyCheckpoint.Config(tied: true);
        TinyCheckpoint.Write(dir.Path, config, seed: 21);
        using var model = Qwen3Checkpoint.Load(dir.Path);
        var rng = new Random(9);
        int[][] prompts = [.. new[] { 3, 12, 7, 1 }.Select(n => ModelHarness.RandomTokens(rng, n, config.VocabSize))];
        int t = prompts.Max(p => p.Length);

        using var _ = torch.no_grad();
        var ids = new long[prompts.Length * t]; var valid = new bool[prompts.Length * t];
        for (int r = 0; r < prompts.Length; r++)
            for (int j = 0; j < prompts[r].Length; j++) { ids[r * t + t - prompts[r].Length + j] = prompts[r][j]; valid[r * t + t - prompts[r].Length + j] = true; }
        var validT = torch.tensor(valid, [prompts.Length, t]);
        var batched = model.Forward(torch.tensor(ids, [prompts.Length, t]), AttentionMasks.PrefillPositions(validT), AttentionMasks.Build(validT, t, ScalarType.Float32));
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = ModelHarness.Logits(model, prompts[r]);
            for (int j = 0; j < prompts[r].Length; j++)
                ModelHarness.AssertClose(alone[j], batched[r, t - prompts[r].Length + j].data<float>().ToArray(), 1e-4, $"prompt {r} position {j}");
        }
    }

    [Fact]
    public void Sharded_and_bf16_checkpoints_load_the_same_weights()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var config = TinyCheckpoint.Config();
        TinyCheckpoint.Write(a.Path, config, seed: 4);
        TinyCheckpoint.Write(b.Path, config, seed: 4, shards: 3);
        using var single = Qwen3Checkpoint.Load(a.Path);
        using var sharded = Qwen3Checkpoint.Load(b.Path);
        var tokens = ModelHarness.RandomTokens(new Random(1), 5, config.VocabSize);
        Assert.Equal(ModelHarness.Logits(single, tokens)[^1], ModelHarness.Logits(sharded, tokens)[^1]);

        using var c = new TempDir();
        TinyCheckpoint.Write(c.Path, config, seed: 4, dtype: Core.SafeTensorDType.BF16);
        using var bf16 = Qwen3Checkpoint.Load(c.Path);
        // bf16 storage keeps ~3 significant digits: close to the f32 model, and not identical (the rounding happened).
        var x = ModelHarness.Logits(single, tokens)[^1];
        var y = ModelHarness.Logits(bf16, tokens)[^1];
        ModelHarness.AssertClose(x, y, 0.1, "bf16 vs f32 logits");
        Assert.NotEqual(x, y);
    }
}
