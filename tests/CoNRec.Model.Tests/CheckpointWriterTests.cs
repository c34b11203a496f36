using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Qwen3;
using CoNRec.Testing;
using TorchSharp;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class CheckpointWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A model whose every weight (norms included) is random, so a tensor saved under the wrong name shows.</summary>
    private static Qwen3ForCausalLM RandomModel(Qwen3Config config, int seed)
    {
        var model = new Qwen3ForCausalLM(config);
        using var _ = torch.no_grad();
        using var g = new torch.Generator((ulong)seed);
        foreach (var p in model.parameters()) p.add_(torch.randn(p.shape, generator: g) * 0.2);
        model.eval();
        return model;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Saved_checkpoint_loads_back_with_identical_logits(bool tied)
    {
        var config = TinyCheckpoint.Config(vocab: 80, tied: tied) with { EosTokenId = 7, PadTokenId = 3 };
        using var model = RandomModel(config, seed: 5);
        Qwen3CheckpointWriter.Save(model, _dir.Path);
        using var loaded = Qwen3Checkpoint.Load(_dir.Path);

        Assert.Equal(config, loaded.Config with { MaxPositionEmbeddings = config.MaxPositionEmbeddings });
        int[] tokens = [1, 17, 42, 79, 0, 5, 5, 63];
        var expected = ModelHarness.Logits(model, tokens);
        var actual = ModelHarness.Logits(loaded, tokens);
        for (int i = 0; i < tokens.Length; i++) ModelHarness.AssertClose(expected[i], actual[i], 0, $"position {i}");
    }

    [Fact]
    public void Files_carry_hf_names_and_config_keys()
    {
        var config = TinyCheckpoint.Config(vocab: 64, layers: 1, tied: true) with { EosTokenId = 9 };
        using var model = RandomModel(config, seed: 2);
        Qwen3CheckpointWriter.Save(model, _dir.Path);

        var file = SafeTensorsFile.Load(_dir.File("model.safetensors"));
        string[] expected =
        [
            "model.embed_tokens.weight", "model.norm.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.v_proj.weight",
            "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_norm.weight", "model.layers.0.self_attn.k_norm.weight",
            "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        ];
        Assert.Equal(expected.Order(), file.Tensors.Keys.Order()); // tied: no lm_head.weight, no rotary buffer
        Assert.All(file.Tensors.Values, t => Assert.Equal(SafeTensorDType.F32, t.DType));
        Assert.Equal([64L, 32L], file.Tensors["model.embed_tokens.weight"].Shape);

        using var doc = JsonDocument.Parse(File.ReadAllText(_dir.File("config.json")));
        var root = doc.RootElement;
        Assert.Equal("Qwen3ForCausalLM", root.GetProperty("architectures")[0].GetString());
        Assert.Equal("qwen3", root.GetProperty("model_type").GetString());
        Assert.Equal("float32", root.GetProperty("torch_dtype").GetString());
        Assert.Equal(64, root.GetProperty("vocab_size").GetInt32());
        Assert.Equal(16, root.GetProperty("head_dim").GetInt32());
        Assert.Equal(2, root.GetProperty("num_key_value_heads").GetInt32());
        Assert.True(root.GetProperty("tie_word_embeddings").GetBoolean());
        Assert.Equal(9, root.GetProperty("eos_token_id").GetInt32());
        Assert.False(root.TryGetProperty("pad_token_id", out _));

        using var gen = JsonDocument.Parse(File.ReadAllText(_dir.File("generation_config.json")));
        Assert.Equal(9, gen.RootElement.GetProperty("eos_token_id").GetInt32());
    }
}
