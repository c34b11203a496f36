using System.Text.Json.Nodes;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Lora;

/// <summary>
/// Saves LoRA training in PEFT's format, so PEFT (<c>PeftModel.from_pretrained</c>) and this product's loader read
/// the same files: <c>adapter_config.json</c> with LoraConfig's fields, and <c>adapter_model.safetensors</c> with
/// PEFT's key names (the adapter name "default" removed, as <c>get_peft_model_state_dict</c> does):
/// <c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c> [r, in], <c>…lora_B.weight</c> [out, r], and
/// for the SID token rows <c>base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta</c> [n, hidden]
/// with <c>trainable_token_indices</c> naming the rows (PEFT stores the trained rows themselves, not a difference).
/// </summary>
public static class PeftAdapterWriter
{
    public const string Prefix = "base_model.model.";
    public const string TokenDeltaKey = Prefix + "model.embed_tokens.token_adapter.trainable_tokens_delta";

    public static void Save(string dir, LoraSettings settings, IReadOnlyList<(string Path, LoraLinear Adapter)> adapters, string baseModel,
        IReadOnlyList<int> tokenIndices, Tensor embedding)
    {
        ArgumentNullException.ThrowIfNull(adapters);
        Directory.CreateDirectory(dir);
        var entries = new List<SafeTensorsWriter.Entry>();
        foreach (var (path, adapter) in adapters)
        {
            entries.Add(Entry($"{Prefix}{path}.lora_A.weight", adapter.A));
            entries.Add(Entry($"{Prefix}{path}.lora_B.weight", adapter.B));
        }
        if (tokenIndices.Count > 0)
        {
            using var rows = embedding.index_select(0, torch.tensor(tokenIndices.Select(i => (long)i).ToArray(), device: embedding.device));
            entries.Add(Entry(TokenDeltaKey, rows));
        }
        using (var stream = File.Create(Path.Combine(dir, LoraAdapter.WeightsFile)))
            SafeTensorsWriter.Write(stream, entries, new Dictionary<string, string> { ["format"] = "pt" });

        var targets = new JsonArray();
        foreach (var t in settings.TargetModules) targets.Add(t);
        JsonNode? tokens = null;
        if (tokenIndices.Count > 0)
        {
            var list = new JsonArray();
            foreach (var i in tokenIndices) list.Add(i);
            tokens = new JsonObject { ["embed_tokens"] = list };
        }
        // Field for field what PEFT's LoraConfig.to_dict writes for these settings (defaults included): people diff these.
        var config = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["base_model_name_or_path"] = baseModel,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = settings.Alpha,
            ["lora_bias"] = false,
            ["lora_dropout"] = settings.Dropout,
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = settings.Rank,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = targets,
            ["task_type"] = "CAUSAL_LM",
            ["trainable_token_indices"] = tokens,
            ["use_dora"] = false,
            ["use_rslora"] = settings.UseRsLora,
        };
        File.WriteAllText(Path.Combine(dir, LoraAdapter.ConfigFile), config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    private static SafeTensorsWriter.Entry Entry(string name, Tensor t)
    {
        using var cpu = t.detach().to(ScalarType.Float32).cpu().contiguous();
        var values = new float[cpu.numel()];
        cpu.data<float>().CopyTo(values, 0);
        return SafeTensorsWriter.F32(name, cpu.shape, values);
    }
}
