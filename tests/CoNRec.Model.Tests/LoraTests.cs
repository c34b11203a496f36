using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Qwen3;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Model.Tests;

public class LoraTests
{
    private const int Rank = 2;

    private static Dictionary<string, (long[] Shape, float[] Values)> WriteAdapter(string dir, Qwen3Config c, object targetModules, double alpha,
        bool rs = false, string[]? modules = null, int seed = 7)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, (long[], float[])>();
        modules ??= ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj"];
        foreach (var m in modules)
        {
            var (outDim, inDim) = m.EndsWith("q_proj") ? (c.NumAttentionHeads * c.HeadDim, c.HiddenSize)
                : m.EndsWith("v_proj") ? (c.NumKeyValueHeads * c.HeadDim, c.HiddenSize) : (c.HiddenSize, c.IntermediateSize);
            tensors[$"base_model.model.{m}.lora_A.weight"] = ([Rank, inDim], [.. Enumerable.Range(0, Rank * inDim).Select(_ => (float)(rng.NextDouble() - 0.5))]);
            tensors[$"base_model.model.{m}.lora_B.weight"] = ([outDim, Rank], [.. Enumerable.Range(0, outDim * Rank).Select(_ => (float)(rng.NextDouble() - 0.5))]);
        }
        File.WriteAllBytes(Path.Combine(dir, LoraAdapter.WeightsFile), SafeTensorsWriter.ToBytes(tensors.Select(t => SafeTensorsWriter.F32(t.Key, t.Value.Item1, t.Value.Item2))));
        File.WriteAllText(Path.Combine(dir, LoraAdapter.ConfigFile), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["peft_type"] = "LORA", ["r"] = Rank, ["lora_alpha"] = alpha, ["target_modules"] = targetModules, ["use_rslora"] = rs,
            ["bias"] = "none", ["fan_in_fan_out"] = false,
        }));
        return tensors;
    }

    private static float[] Param(Qwen3ForCausalLM model, string name) =>
        model.named_parameters().Single(p => p.name == name).parameter.data<float>().ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merge_equals_base_plus_B_times_A_times_scale_computed_independently(bool rsLora)
    {
        using var dir = new TempDir();
        var c = TinyCheckpoint.Config();
        var w = TinyCheckpoint.Write(dir.Path, c, seed: 2);
        var adapter = WriteAdapter(dir.Path, c, new[] { "q_proj", "v_proj", "down_proj" }, alpha: 6, rs: rsLora);
        using var model = Qwen3Checkpoint.Load(dir.Path);
        double scale = rsLora ? 6 / Math.Sqrt(Rank) : 6.0 / Rank;

        foreach (var m in new[] { "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj" })
        {
            var (aShape, a) = adapter[$"base_model.model.{m}.lora_A.weight"];
            var (bShape, b) = adapter[$"base_model.model.{m}.lora_B.weight"];
            var (_, baseW) = w[m + ".weight"];
            long outDim = bShape[0], inDim = aShape[1];
            var expected = new float[outDim * inDim];
            for (long o = 0; o < outDim; o++)
                for (long i = 0; i < inDim; i++)
                {
                    double s = 0;
                    for (int k = 0; k < Rank; k++) s += (double)b[o * Rank + k] * a[k * inDim + i];
                    expected[o * inDim + i] = (float)(baseW[o * inDim + i] + scale * s);
                }
            ModelHarness.AssertClose(expected, Param(model, m + ".weight"), 1e-5, m);
        }
        // Untargeted weights are untouched.
        Assert.Equal(w["model.layers.0.self_attn.k_proj.weight"].Values, Param(model, "model.layers.0.self_attn.k_proj.weight"));
    }

    [Fact]
    public void Regex_target_modules_follow_peft_full_match()
    {
        using var dir = new TempDir();
        var c = TinyCheckpoint.Config();
        TinyCheckpoint.Write(dir.Path, c);
        WriteAdapter(dir.Path, c, @".*\.layers\.1\..*(v_proj|down_proj)", 4, modules: ["model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj"]);
        Qwen3Checkpoint.Load(dir.Path).Dispose();
        WriteAdapter(dir.Path, c, @"layers\.1\..*v_proj", 4, modules: ["model.layers.1.self_attn.v_proj"]); // not a full match
        Assert.Contains("'target_modules' does not name", Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);
    }

    [Fact]
    public void Adapter_weights_for_an_untargeted_module_or_unsupported_options_are_refused()
    {
        using var dir = new TempDir();
        var c = TinyCheckpoint.Config();
        TinyCheckpoint.Write(dir.Path, c);
        WriteAdapter(dir.Path, c, new[] { "q_proj" }, 4);
        Assert.Contains("adapter weights for 'model.layers.1.mlp.down_proj', which 'target_modules' does not name",
            Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);

        var cfg = dir.File(LoraAdapter.ConfigFile);
        File.WriteAllText(cfg, """{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "use_dora": true}""");
        Assert.Contains("'use_dora' is true", Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);
        File.WriteAllText(cfg, """{"peft_type": "LORA", "r": 0, "target_modules": ["q_proj"]}""");
        Assert.Contains("'r' must be an integer in [1, 65536]", Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);
        File.WriteAllText(cfg, """{"peft_type": "PREFIX_TUNING"}""");
        Assert.Contains("only LORA is supported", Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);
        File.Delete(dir.File(LoraAdapter.WeightsFile));
        Assert.Contains("adapter_model.safetensors is missing", Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir.Path)).Message);
    }
}
