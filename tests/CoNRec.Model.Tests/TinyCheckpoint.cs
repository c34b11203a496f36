using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Qwen3;

namespace CoNRec.Model.Tests;

/// <summary>
/// Writes small random Qwen3 checkpoints in Hugging Face layout (config.json + safetensors, optionally sharded),
/// through the project's own safetensors writer. Shared with the Batch tests as linked source.
/// </summary>
public static class TinyCheckpoint
{
    public static Qwen3Config Config(int vocab = 96, int hidden = 32, int layers = 2, int heads = 4, int kvHeads = 2, int headDim = 16,
        int intermediate = 48, bool tied = false, double theta = 10_000) => new()
        {
            VocabSize = vocab, HiddenSize = hidden, NumHiddenLayers = layers, NumAttentionHeads = heads, NumKeyValueHeads = kvHeads,
            HeadDim = headDim, IntermediateSize = intermediate, TieWordEmbeddings = tied, RopeTheta = theta, RmsNormEps = 1e-6,
        };

    /// <summary>Random weights named as HF names them. Norm weights are perturbed away from 1 so a missing norm shows.</summary>
    public static Dictionary<string, (long[] Shape, float[] Values)> RandomWeights(Qwen3Config c, int seed)
    {
        var rng = new Random(seed);
        var w = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
        void Add(string name, long[] shape, double scale, double offset = 0)
        {
            var v = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < v.Length; i++) v[i] = (float)(offset + scale * (rng.NextDouble() * 2 - 1));
            w[name] = (shape, v);
        }
        int h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        Add("model.embed_tokens.weight", [c.VocabSize, h], 1.0);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            Add(p + "self_attn.q_proj.weight", [q, h], 1.0 / Math.Sqrt(h));
            Add(p + "self_attn.k_proj.weight", [kv, h], 1.0 / Math.Sqrt(h));
            Add(p + "self_attn.v_proj.weight", [kv, h], 1.0 / Math.Sqrt(h));
            Add(p + "self_attn.o_proj.weight", [h, q], 1.0 / Math.Sqrt(q));
            Add(p + "self_attn.q_norm.weight", [c.HeadDim], 0.2, 1.0);
            Add(p + "self_attn.k_norm.weight", [c.HeadDim], 0.2, 1.0);
            Add(p + "mlp.gate_proj.weight", [c.IntermediateSize, h], 1.0 / Math.Sqrt(h));
            Add(p + "mlp.up_proj.weight", [c.IntermediateSize, h], 1.0 / Math.Sqrt(h));
            Add(p + "mlp.down_proj.weight", [h, c.IntermediateSize], 1.0 / Math.Sqrt(c.IntermediateSize));
            Add(p + "input_layernorm.weight", [h], 0.2, 1.0);
            Add(p + "post_attention_layernorm.weight", [h], 0.2, 1.0);
        }
        Add("model.norm.weight", [h], 0.2, 1.0);
        if (!c.TieWordEmbeddings) Add("lm_head.weight", [c.VocabSize, h], 1.0 / Math.Sqrt(h));
        return w;
    }

    public static string ConfigJson(Qwen3Config c, bool ropeParameters = false)
    {
        var d = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { "Qwen3ForCausalLM" }, ["model_type"] = "qwen3",
            ["vocab_size"] = c.VocabSize, ["hidden_size"] = c.HiddenSize, ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers, ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads, ["head_dim"] = c.HeadDim, ["rms_norm_eps"] = c.RmsNormEps,
            ["tie_word_embeddings"] = c.TieWordEmbeddings, ["attention_bias"] = false, ["max_position_embeddings"] = 4096,
            ["torch_dtype"] = "float32", ["use_sliding_window"] = false,
        };
        if (ropeParameters) d["rope_parameters"] = new Dictionary<string, object> { ["rope_type"] = "default", ["rope_theta"] = c.RopeTheta };
        else d["rope_theta"] = c.RopeTheta;
        return JsonSerializer.Serialize(d);
    }

    /// <summary>Writes config.json and weights (one file, or <paramref name="shards"/> files plus the index).</summary>
    public static Dictionary<string, (long[] Shape, float[] Values)> Write(string dir, Qwen3Config c, int seed = 1, int shards = 1,
        bool ropeParameters = false, SafeTensorDType dtype = SafeTensorDType.F32)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson(c, ropeParameters));
        var weights = RandomWeights(c, seed);
        WriteWeights(dir, weights, shards, dtype);
        return weights;
    }

    public static void WriteWeights(string dir, Dictionary<string, (long[] Shape, float[] Values)> weights, int shards = 1, SafeTensorDType dtype = SafeTensorDType.F32)
    {
        SafeTensorsWriter.Entry Entry(string name, long[] shape, float[] v) => dtype switch
        {
            SafeTensorDType.BF16 => SafeTensorsWriter.BF16(name, shape, v),
            SafeTensorDType.F16 => SafeTensorsWriter.F16(name, shape, v),
            _ => SafeTensorsWriter.F32(name, shape, v),
        };
        var names = weights.Keys.ToList();
        if (shards == 1)
        {
            File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), SafeTensorsWriter.ToBytes(names.Select(n => Entry(n, weights[n].Shape, weights[n].Values))));
            return;
        }
        var map = new Dictionary<string, string>();
        for (int s = 0; s < shards; s++)
        {
            string file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            var mine = names.Where((_, i) => i % shards == s).ToList();
            foreach (var n in mine) map[n] = file;
            File.WriteAllBytes(Path.Combine(dir, file), SafeTensorsWriter.ToBytes(mine.Select(n => Entry(n, weights[n].Shape, weights[n].Values))));
        }
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }
}
