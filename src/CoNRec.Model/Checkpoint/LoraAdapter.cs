using System.Text.Json;
using System.Text.RegularExpressions;
using CoNRec.Core;
using CoNRec.Model.Qwen3;

namespace CoNRec.Model.Checkpoint;

/// <summary>
/// A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors), merged into the base weights at load:
/// W += B·A · alpha/r (alpha/√r with rsLoRA). Merging once costs nothing per token, which is what a batch job wants.
/// </summary>
public sealed class LoraAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    public int Rank { get; }
    public double Alpha { get; }
    public bool UseRsLora { get; }
    public double Scale => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;
    private readonly IReadOnlyList<string>? _targetList;
    private readonly Regex? _targetRegex;
    private readonly SafeTensorsFile _weights;
    private readonly string _source;

    /// <summary>Rows of the embedding the adapter replaces (PEFT's trainable_token_indices), in the order of <see cref="TokenRows"/>.</summary>
    public IReadOnlyList<int> TokenIndices { get; }

    /// <summary>PEFT's base_model_name_or_path: where the frozen base weights are, when the adapter directory has none.</summary>
    public string? BaseModel { get; }

    private LoraAdapter(int rank, double alpha, bool rs, IReadOnlyList<string>? list, Regex? regex, SafeTensorsFile weights, string source,
        IReadOnlyList<int> tokens, string? baseModel)
    {
        Rank = rank; Alpha = alpha; UseRsLora = rs; _targetList = list; _targetRegex = regex; _weights = weights; _source = source;
        TokenIndices = tokens; BaseModel = baseModel;
    }

    /// <summary>The replacement rows [TokenIndices.Count × hidden], row-major; empty without trainable tokens.</summary>
    public float[] TokenRows(long hidden)
    {
        if (TokenIndices.Count == 0) return [];
        var t = Get(Lora.PeftAdapterWriter.TokenDeltaKey);
        if (t.Shape.Length != 2 || t.Shape[0] != TokenIndices.Count || t.Shape[1] != hidden)
            throw new CheckpointFormatException($"{_source}: '{Lora.PeftAdapterWriter.TokenDeltaKey}' is {Shape(t)}; expected [{TokenIndices.Count}, {hidden}] (trainable_token_indices × hidden size)");
        return _weights.ReadAsFloat32(t);
    }

    public static bool Exists(string dir) => File.Exists(Path.Combine(dir, ConfigFile));

    public static LoraAdapter Load(string dir)
    {
        string cfgPath = Path.Combine(dir, ConfigFile), wPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(wPath)) throw new CheckpointFormatException($"{dir}: {ConfigFile} present but {WeightsFile} is missing");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(cfgPath)); }
        catch (JsonException e) { throw new CheckpointFormatException($"{cfgPath}: not valid JSON: {e.Message}"); }
        using (doc)
        {
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object) throw new CheckpointFormatException($"{cfgPath}: expected a JSON object");
            string? peft = r.TryGetProperty("peft_type", out var pt) ? pt.GetString() : "LORA";
            if (peft != "LORA") throw new CheckpointFormatException($"{cfgPath}: 'peft_type' is '{peft}'; only LORA is supported");
            if (!r.TryGetProperty("r", out var rv) || !rv.TryGetInt32(out int rank) || rank < 1 || rank > 65_536)
                throw new CheckpointFormatException($"{cfgPath}: 'r' must be an integer in [1, 65536]");
            double alpha = r.TryGetProperty("lora_alpha", out var av) && av.ValueKind == JsonValueKind.Number ? av.GetDouble() : 8;
            if (!double.IsFinite(alpha)) throw new CheckpointFormatException($"{cfgPath}: 'lora_alpha' must be finite");
            bool Flag(string n) => r.TryGetProperty(n, out var f) && f.ValueKind == JsonValueKind.True;
            if (Flag("use_dora")) throw new CheckpointFormatException($"{cfgPath}: 'use_dora' is true; DoRA adapters are not supported");
            if (Flag("fan_in_fan_out")) throw new CheckpointFormatException($"{cfgPath}: 'fan_in_fan_out' is true; only nn.Linear layouts are supported");
            if (r.TryGetProperty("modules_to_save", out var ms) && ms.ValueKind == JsonValueKind.Array && ms.GetArrayLength() > 0)
                throw new CheckpointFormatException($"{cfgPath}: 'modules_to_save' is not supported (the adapter would replace whole modules)");
            if (r.TryGetProperty("bias", out var bv) && bv.ValueKind == JsonValueKind.String && bv.GetString() != "none")
                throw new CheckpointFormatException($"{cfgPath}: 'bias' is '{bv.GetString()}'; only 'none' is supported");
            if (r.TryGetProperty("rank_pattern", out var rp) && rp.ValueKind == JsonValueKind.Object && rp.EnumerateObject().Any())
                throw new CheckpointFormatException($"{cfgPath}: 'rank_pattern' is not supported");
            IReadOnlyList<string>? list = null; Regex? regex = null;
            if (!r.TryGetProperty("target_modules", out var tm) || tm.ValueKind == JsonValueKind.Null)
                throw new CheckpointFormatException($"{cfgPath}: 'target_modules' is missing");
            if (tm.ValueKind == JsonValueKind.String)
            {
                try { regex = new Regex("^(?:" + tm.GetString() + ")$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)); }
                catch (ArgumentException e) { throw new CheckpointFormatException($"{cfgPath}: 'target_modules' is not a valid regex: {e.Message}"); }
            }
            else if (tm.ValueKind == JsonValueKind.Array) list = [.. tm.EnumerateArray().Select(e => e.GetString() ?? "")];
            else throw new CheckpointFormatException($"{cfgPath}: 'target_modules' must be a list of names or a regex string");
            var tokens = new List<int>();
            if (r.TryGetProperty("trainable_token_indices", out var tti) && tti.ValueKind != JsonValueKind.Null)
            {
                // PEFT accepts a list (the input embedding) or {"module name": [ids]}; only the input embedding is supported here.
                JsonElement ids = tti;
                if (tti.ValueKind == JsonValueKind.Object)
                {
                    var names = tti.EnumerateObject().Select(p => p.Name).ToList();
                    if (names.Count != 1 || names[0] != "embed_tokens")
                        throw new CheckpointFormatException($"{cfgPath}: 'trainable_token_indices' names {string.Join(", ", names)}; only 'embed_tokens' is supported");
                    ids = tti.GetProperty("embed_tokens");
                }
                if (ids.ValueKind != JsonValueKind.Array) throw new CheckpointFormatException($"{cfgPath}: 'trainable_token_indices' must list token ids");
                foreach (var e in ids.EnumerateArray())
                {
                    if (!e.TryGetInt32(out int id) || id < 0) throw new CheckpointFormatException($"{cfgPath}: 'trainable_token_indices' must hold non-negative integers");
                    tokens.Add(id);
                }
                if (tokens.Distinct().Count() != tokens.Count) throw new CheckpointFormatException($"{cfgPath}: 'trainable_token_indices' repeats a token id");
            }
            string? baseModel = r.TryGetProperty("base_model_name_or_path", out var bm) && bm.ValueKind == JsonValueKind.String ? bm.GetString() : null;
            SafeTensorsFile weights;
            try { weights = SafeTensorsFile.Load(wPath); }
            catch (SafeTensorsFormatException e) { throw new CheckpointFormatException($"{wPath}: {e.Message}"); }
            return new LoraAdapter(rank, alpha, Flag("use_rslora"), list, regex, weights, wPath, tokens, baseModel);
        }
    }

    /// <summary>PEFT's matching: a regex must match the whole module path; a list entry matches the path or its last segments.</summary>
    public bool Targets(string path) =>
        _targetRegex is not null ? _targetRegex.IsMatch(path)
        : _targetList!.Any(t => path == t || path.EndsWith("." + t, StringComparison.Ordinal));

    /// <summary>
    /// Yields (base weight name, ΔW as [out·in] float32 row-major) for every adapted module, validating names,
    /// shapes and that each module is one <c>target_modules</c> names.
    /// </summary>
    public IEnumerable<(string WeightName, long Out, long In, float[] Delta)> Deltas()
    {
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var name in _weights.Tensors.Keys)
        {
            if (name == Lora.PeftAdapterWriter.TokenDeltaKey)
            {
                if (TokenIndices.Count == 0) throw new CheckpointFormatException($"{_source}: '{name}' present but 'trainable_token_indices' is empty");
                continue;
            }
            string n = name.StartsWith("base_model.model.", StringComparison.Ordinal) ? name["base_model.model.".Length..] : name;
            int i = n.IndexOf(".lora_", StringComparison.Ordinal);
            if (i < 0 || !(n.EndsWith(".lora_A.weight", StringComparison.Ordinal) || n.EndsWith(".lora_B.weight", StringComparison.Ordinal)))
                throw new CheckpointFormatException($"{_source}: tensor '{name}' is not a LoRA A/B weight; only plain LoRA adapters are supported");
            modules.Add(name[..(name.Length - n.Length + i)]);
        }
        foreach (var prefix in modules)
        {
            string path = prefix.StartsWith("base_model.model.", StringComparison.Ordinal) ? prefix["base_model.model.".Length..] : prefix;
            if (!Targets(path)) throw new CheckpointFormatException($"{_source}: adapter weights for '{path}', which 'target_modules' does not name");
            var a = Get(prefix + ".lora_A.weight");
            var b = Get(prefix + ".lora_B.weight");
            if (a.Shape.Length != 2 || b.Shape.Length != 2 || a.Shape[0] != Rank || b.Shape[1] != Rank)
                throw new CheckpointFormatException($"{_source}: '{prefix}' LoRA shapes A {Shape(a)}, B {Shape(b)} do not match r = {Rank}");
            long outDim = b.Shape[0], inDim = a.Shape[1];
            float[] av = _weights.ReadAsFloat32(a), bv = _weights.ReadAsFloat32(b);
            var delta = new float[outDim * inDim];
            float scale = (float)Scale;
            // ΔW[o, i] = scale · Σ_k B[o, k] A[k, i]; done on the CPU once per load.
            for (long o = 0; o < outDim; o++)
                for (int k = 0; k < Rank; k++)
                {
                    float bok = bv[o * Rank + k] * scale;
                    if (bok == 0) continue;
                    var row = delta.AsSpan((int)(o * inDim), (int)inDim);
                    var arow = av.AsSpan((int)(k * inDim), (int)inDim);
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(arow, bok, row, row);
                }
            yield return (path + ".weight", outDim, inDim, delta);
        }
    }

    private SafeTensorInfo Get(string name) =>
        _weights.Tensors.TryGetValue(name, out var t) ? t : throw new CheckpointFormatException($"{_source}: '{name}' is missing");

    private static string Shape(SafeTensorInfo t) => "[" + string.Join(", ", t.Shape) + "]";
}
