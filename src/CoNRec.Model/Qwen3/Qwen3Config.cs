using System.Text.Json;

namespace CoNRec.Model.Qwen3;

public sealed class CheckpointFormatException(string message) : FormatException(message);

/// <summary>
/// The subset of Hugging Face's Qwen3Config that changes the forward pass. Anything that would change it but is not
/// implemented (rope scaling, sliding-window layers) is refused at load rather than silently ignored.
/// </summary>
public sealed record Qwen3Config
{
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 1_000_000;
    public bool TieWordEmbeddings { get; init; }
    public bool AttentionBias { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 40_960;
    public int? EosTokenId { get; init; }
    public int? PadTokenId { get; init; }

    public static Qwen3Config Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException($"{path}: config.json not found");
        return Parse(File.ReadAllBytes(path), path);
    }

    public static Qwen3Config Parse(ReadOnlySpan<byte> json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json.ToArray()); }
        catch (JsonException e) { throw new CheckpointFormatException($"{source}: not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new CheckpointFormatException($"{source}: expected a JSON object");
            string? modelType = Str(root, "model_type");
            if (modelType is not null && modelType != "qwen3")
                throw new CheckpointFormatException($"{source}: 'model_type' is '{modelType}'; only 'qwen3' is supported");

            int heads = Int(root, "num_attention_heads", source, 1, 1024);
            int hidden = Int(root, "hidden_size", source, 1, 65_536);
            var c = new Qwen3Config
            {
                VocabSize = Int(root, "vocab_size", source, 1, 1 << 24),
                HiddenSize = hidden,
                IntermediateSize = Int(root, "intermediate_size", source, 1, 1 << 20),
                NumHiddenLayers = Int(root, "num_hidden_layers", source, 1, 1024),
                NumAttentionHeads = heads,
                NumKeyValueHeads = root.TryGetProperty("num_key_value_heads", out var kv) && kv.ValueKind != JsonValueKind.Null
                    ? Int(root, "num_key_value_heads", source, 1, 1024) : heads,
                // Qwen3 decouples head_dim from hidden/heads (0.6B: 16 heads × 128 > 1024), so it must come from the config.
                HeadDim = root.TryGetProperty("head_dim", out var hd) && hd.ValueKind != JsonValueKind.Null
                    ? Int(root, "head_dim", source, 2, 4096) : hidden / heads,
                RmsNormEps = Num(root, "rms_norm_eps", source, 1e-6),
                RopeTheta = RopeThetaOf(root, source),
                TieWordEmbeddings = Bool(root, "tie_word_embeddings", false),
                AttentionBias = Bool(root, "attention_bias", false),
                MaxPositionEmbeddings = root.TryGetProperty("max_position_embeddings", out _) ? Int(root, "max_position_embeddings", source, 1, int.MaxValue) : 40_960,
                EosTokenId = OptionalId(root, "eos_token_id"),
                PadTokenId = OptionalId(root, "pad_token_id"),
            };
            if (c.NumAttentionHeads % c.NumKeyValueHeads != 0)
                throw new CheckpointFormatException($"{source}: 'num_attention_heads' ({c.NumAttentionHeads}) must be a multiple of 'num_key_value_heads' ({c.NumKeyValueHeads})");
            if (c.HeadDim % 2 != 0) throw new CheckpointFormatException($"{source}: 'head_dim' ({c.HeadDim}) must be even for rotary embeddings");
            if (Bool(root, "use_sliding_window", false))
                throw new CheckpointFormatException($"{source}: 'use_sliding_window' is true; sliding-window attention is not supported");
            if (root.TryGetProperty("layer_types", out var lt) && lt.ValueKind == JsonValueKind.Array
                && lt.EnumerateArray().Any(t => t.ValueKind == JsonValueKind.String && t.GetString() != "full_attention"))
                throw new CheckpointFormatException($"{source}: 'layer_types' lists a layer other than 'full_attention'; only full attention is supported");
            return c;
        }
    }

    // Newer transformers write rope_parameters {rope_type, rope_theta}; older ones rope_theta (+ rope_scaling).
    private static double RopeThetaOf(JsonElement root, string source)
    {
        foreach (var key in new[] { "rope_parameters", "rope_scaling" })
        {
            if (!root.TryGetProperty(key, out var p) || p.ValueKind == JsonValueKind.Null) continue;
            if (p.ValueKind != JsonValueKind.Object) throw new CheckpointFormatException($"{source}: '{key}' must be an object");
            string type = Str(p, "rope_type") ?? Str(p, "type") ?? "default";
            if (type != "default")
                throw new CheckpointFormatException($"{source}: '{key}.rope_type' is '{type}'; only 'default' rotary embeddings are supported");
            if (key == "rope_parameters" && p.TryGetProperty("rope_theta", out _)) return Num(p, "rope_theta", source + ":rope_parameters", 1_000_000);
        }
        return Num(root, "rope_theta", source, 1_000_000);
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => fallback } : fallback;

    private static int Int(JsonElement e, string name, string source, int min, int max)
    {
        if (!e.TryGetProperty(name, out var v)) throw new CheckpointFormatException($"{source}: '{name}' is missing");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x))
            throw new CheckpointFormatException($"{source}: '{name}' must be an integer");
        if (x < min || x > max) throw new CheckpointFormatException($"{source}: '{name}' = {x} is out of range [{min}, {max}]");
        return (int)x;
    }

    private static double Num(JsonElement e, string name, string source, double fallback)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return fallback;
        if (v.ValueKind != JsonValueKind.Number) throw new CheckpointFormatException($"{source}: '{name}' must be a number");
        double x = v.GetDouble();
        if (!(x > 0) || double.IsInfinity(x)) throw new CheckpointFormatException($"{source}: '{name}' = {x} must be positive and finite");
        return x;
    }

    private static int? OptionalId(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int id)) return id;
        if (v.ValueKind == JsonValueKind.Array) foreach (var x in v.EnumerateArray()) if (x.TryGetInt32(out int first)) return first;
        return null;
    }
}
