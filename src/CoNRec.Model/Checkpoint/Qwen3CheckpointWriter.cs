using System.Text;
using System.Text.Json.Nodes;
using CoNRec.Core;
using CoNRec.Model.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Checkpoint;

/// <summary>
/// Saves a <see cref="Qwen3ForCausalLM"/> as a Hugging Face checkpoint directory that both
/// <see cref="Qwen3Checkpoint.Load"/> and transformers' <c>AutoModelForCausalLM.from_pretrained</c> read:
/// config.json, model.safetensors (float32, HF weight names) and generation_config.json.
/// </summary>
public static class Qwen3CheckpointWriter
{
    public const string ConfigFile = "config.json";
    public const string GenerationConfigFile = "generation_config.json";

    public static void Save(Qwen3ForCausalLM model, string dir)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(dir);
        Directory.CreateDirectory(dir);
        var c = model.Config;

        // Parameters, not state_dict(): the module's parameter names are already HF's, and buffers such as the
        // rotary inv_freq are derived from the config (HF does not store them either). With tied embeddings the
        // module has no lm_head parameter, so none is written, as HF does.
        var entries = new List<SafeTensorsWriter.Entry>();
        using (torch.no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                using var scope = NewDisposeScope();
                var cpu = p.detach().to(ScalarType.Float32).cpu().contiguous();
                entries.Add(SafeTensorsWriter.F32(name, cpu.shape, cpu.data<float>().ToArray()));
            }
        }
        // Write to a temporary name and move, so a crash never leaves a truncated model.safetensors behind.
        string weights = Path.Combine(dir, Qwen3Checkpoint.SingleFile), tmp = weights + ".tmp";
        using (var fs = File.Create(tmp)) SafeTensorsWriter.Write(fs, entries, new Dictionary<string, string> { ["format"] = "pt" });
        File.Move(tmp, weights, overwrite: true);

        File.WriteAllText(Path.Combine(dir, ConfigFile), ConfigJson(c).ToJsonString(new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), new UTF8Encoding(false));
        var generation = new JsonObject { ["do_sample"] = false, ["transformers_version"] = TransformersVersion };
        if (c.EosTokenId is int eos) generation["eos_token_id"] = eos;
        if (c.PadTokenId is int pad) generation["pad_token_id"] = pad;
        File.WriteAllText(Path.Combine(dir, GenerationConfigFile), generation.ToJsonString(new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }), new UTF8Encoding(false));
    }

    /// <summary>The version whose Qwen3 config keys these are (rope_theta at top level, head_dim explicit).</summary>
    public const string TransformersVersion = "4.51.0";

    public static JsonObject ConfigJson(Qwen3Config c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen3ForCausalLM"),
            ["model_type"] = "qwen3",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads,
            ["head_dim"] = c.HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = c.RmsNormEps,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = null,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["attention_bias"] = c.AttentionBias,
            ["attention_dropout"] = 0.0,
            ["use_sliding_window"] = false,
            ["sliding_window"] = null,
            ["max_window_layers"] = c.NumHiddenLayers,
            ["initializer_range"] = 0.02,
            ["use_cache"] = true,
            ["torch_dtype"] = "float32",
            ["transformers_version"] = TransformersVersion,
        };
        if (c.EosTokenId is int eos) json["eos_token_id"] = eos;
        if (c.PadTokenId is int pad) json["pad_token_id"] = pad;
        return json;
    }
}
