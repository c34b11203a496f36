using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Qwen3;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Model.Tests;

public class CheckpointTests
{
    private static string LoadError(string dir) => Assert.Throws<CheckpointFormatException>(() => Qwen3Checkpoint.Load(dir).Dispose()).Message;

    [Fact]
    public void A_missing_tensor_is_named()
    {
        using var dir = new TempDir();
        var w = TinyCheckpoint.RandomWeights(TinyCheckpoint.Config(), 1);
        File.WriteAllText(dir.File("config.json"), TinyCheckpoint.ConfigJson(TinyCheckpoint.Config()));
        w.Remove("model.layers.1.self_attn.k_norm.weight");
        TinyCheckpoint.WriteWeights(dir.Path, w);
        Assert.Contains("1 tensor(s) missing, first 'model.layers.1.self_attn.k_norm.weight'", LoadError(dir.Path));
    }

    [Fact]
    public void A_wrong_shape_names_the_tensor_and_both_shapes()
    {
        using var dir = new TempDir();
        var c = TinyCheckpoint.Config();
        var w = TinyCheckpoint.RandomWeights(c, 1);
        w["model.layers.0.mlp.up_proj.weight"] = ([c.IntermediateSize + 1, c.HiddenSize], new float[(c.IntermediateSize + 1) * c.HiddenSize]);
        File.WriteAllText(dir.File("config.json"), TinyCheckpoint.ConfigJson(c));
        TinyCheckpoint.WriteWeights(dir.Path, w);
        Assert.Contains("'model.layers.0.mlp.up_proj.weight' has shape [49, 32], expected [48, 32]", LoadError(dir.Path));
    }

    [Fact]
    public void An_extra_tensor_means_a_different_architecture_and_is_refused()
    {
        using var dir = new TempDir();
        var c = TinyCheckpoint.Config();
        var w = TinyCheckpoint.RandomWeights(c, 1);
        w["model.layers.0.self_attn.q_proj.bias"] = ([c.NumAttentionHeads * c.HeadDim], new float[c.NumAttentionHeads * c.HeadDim]);
        File.WriteAllText(dir.File("config.json"), TinyCheckpoint.ConfigJson(c));
        TinyCheckpoint.WriteWeights(dir.Path, w);
        Assert.Contains("first 'model.layers.0.self_attn.q_proj.bias'", LoadError(dir.Path));
    }

    [Fact]
    public void Truncated_and_bad_header_files_are_refused_with_the_file_name()
    {
        using var dir = new TempDir();
        TinyCheckpoint.Write(dir.Path, TinyCheckpoint.Config());
        string file = dir.File("model.safetensors");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 100)]);
        var truncated = LoadError(dir.Path);
        Assert.Contains("model.safetensors", truncated);

        var badHeader = (byte[])bytes.Clone();
        badHeader[8] = (byte)'#'; // the JSON header starts at byte 8
        File.WriteAllBytes(file, badHeader);
        Assert.Contains("model.safetensors", LoadError(dir.Path));

        File.WriteAllBytes(file, bytes[..5]);
        Assert.Contains("model.safetensors", LoadError(dir.Path));
    }

    [Fact]
    public void Missing_files_and_bad_indexes_are_explained()
    {
        using var dir = new TempDir();
        Assert.Contains("config.json not found", LoadError(dir.Path));
        Assert.Contains("does not exist", LoadError(dir.File("nope")));
        File.WriteAllText(dir.File("config.json"), TinyCheckpoint.ConfigJson(TinyCheckpoint.Config()));
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json", LoadError(dir.Path));

        TinyCheckpoint.Write(dir.Path, TinyCheckpoint.Config(), shards: 2);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));
        Assert.Contains("shard 'model-00002-of-00002.safetensors' does not exist", LoadError(dir.Path));
        File.WriteAllText(dir.File("model.safetensors.index.json"), """{"weight_map": {"model.norm.weight": "../escape.safetensors"}}""");
        Assert.Contains("must be a file name in the model directory", LoadError(dir.Path));
        File.WriteAllText(dir.File("model.safetensors.index.json"), """{"weight_map": 3}""");
        Assert.Contains("'weight_map' is missing or not an object", LoadError(dir.Path));
    }

    [Theory]
    [InlineData("""{"model_type": "llama"}""", "only 'qwen3' is supported")]
    [InlineData("""{"vocab_size": 10, "num_attention_heads": 2}""", "'hidden_size' is missing")]
    [InlineData("""{"vocab_size": 10, "num_attention_heads": 2, "hidden_size": -4}""", "'hidden_size' = -4 is out of range")]
    [InlineData("not json", "not valid JSON")]
    public void Config_errors_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Qwen3Config.Parse(System.Text.Encoding.UTF8.GetBytes(json), "config.json"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Config_reads_rope_theta_from_either_place_and_refuses_what_it_cannot_run()
    {
        var baseJson = JsonSerializer.Deserialize<Dictionary<string, object>>(TinyCheckpoint.ConfigJson(TinyCheckpoint.Config()))!;
        Qwen3Config Parse(Action<Dictionary<string, object>> edit)
        {
            var d = new Dictionary<string, object>(baseJson);
            edit(d);
            return Qwen3Config.Parse(JsonSerializer.SerializeToUtf8Bytes(d), "config.json");
        }
        Assert.Equal(10_000, Parse(_ => { }).RopeTheta);
        Assert.Equal(5_000, Parse(d => { d.Remove("rope_theta"); d["rope_parameters"] = new { rope_type = "default", rope_theta = 5000 }; }).RopeTheta);
        Assert.Equal(16, Parse(_ => { }).HeadDim); // from the config, not hidden/heads = 8
        Assert.Equal(8, Parse(d => d.Remove("head_dim")).HeadDim);
        Assert.Contains("'rope_scaling.rope_type' is 'yarn'",
            Assert.Throws<CheckpointFormatException>(() => Parse(d => d["rope_scaling"] = new { rope_type = "yarn", factor = 4 })).Message);
        Assert.Contains("sliding-window", Assert.Throws<CheckpointFormatException>(() => Parse(d => d["use_sliding_window"] = true)).Message);
        Assert.Contains("multiple of 'num_key_value_heads'", Assert.Throws<CheckpointFormatException>(() => Parse(d => d["num_key_value_heads"] = 3)).Message);
    }
}
