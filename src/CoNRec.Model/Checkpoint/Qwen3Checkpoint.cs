using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Qwen3;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Checkpoint;

/// <summary>
/// Loads a Hugging Face Qwen3 checkpoint directory through the project's own safetensors reader: config.json, then
/// model.safetensors or the shards named by model.safetensors.index.json, then an optional PEFT LoRA adapter merged
/// into the weights. Every parameter must be present with its exact shape; unknown model tensors are refused too,
/// because they mean the checkpoint is not the architecture we are about to run.
/// </summary>
public static class Qwen3Checkpoint
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    public static Device ParseDevice(string name) => name switch
    {
        "cpu" => torch.CPU,
        "cuda" when torch.cuda.is_available() => torch.CUDA,
        "cuda" => throw new InvalidOperationException("--device cuda: no CUDA device is available (or the CPU-only libtorch is installed; build with -p:TorchDevice=cuda)"),
        _ => throw new ArgumentException($"--device must be 'cpu' or 'cuda', not '{name}'"),
    };

    /// <summary>bf16 on CUDA (what the model was trained in, and twice the tensor-core rate), f32 on CPU (bf16 matmul is slow there).</summary>
    public static ScalarType DefaultDType(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;

    public static Qwen3ForCausalLM Load(string dir, Device? device = null, ScalarType? dtype = null, Action<string>? log = null)
    {
        device ??= torch.CPU;
        var dt = dtype ?? DefaultDType(device);
        if (!Directory.Exists(dir)) throw new CheckpointFormatException($"model directory '{dir}' does not exist");
        var config = Qwen3Config.Load(Path.Combine(dir, "config.json"));
        var adapter = LoraAdapter.Exists(dir) ? LoraAdapter.Load(dir) : null;
        var files = OpenWeights(WeightsDirectory(dir, adapter));

        var model = new Qwen3ForCausalLM(config);
        model.eval();
        var deltas = adapter is not null ? adapter.Deltas().ToDictionary(d => d.WeightName) : [];
        if (adapter is { TokenIndices.Count: > 0 } && !config.TieWordEmbeddings)
            throw new CheckpointFormatException($"{dir}: the adapter trains token rows of embed_tokens, but the model's lm_head is not tied to it; only tied embeddings are supported");
        using (torch.no_grad())
        {
            var expected = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var missing = expected.Keys.Where(n => !files.ContainsKey(n)).ToList();
            if (missing.Count > 0)
                throw new CheckpointFormatException($"{dir}: {missing.Count} tensor(s) missing, first '{missing[0]}' (config: {config.NumHiddenLayers} layers, tie_word_embeddings={config.TieWordEmbeddings.ToString().ToLowerInvariant()})");
            var unknown = files.Keys.Where(n => !expected.ContainsKey(n) && !(n == "lm_head.weight" && config.TieWordEmbeddings)).ToList();
            if (unknown.Count > 0)
                throw new CheckpointFormatException($"{dir}: {unknown.Count} tensor(s) this Qwen3 config does not have, first '{unknown[0]}'");
            foreach (var (name, param) in expected)
            {
                var (file, info) = files[name];
                var shape = param.shape;
                if (name == EmbeddingName && adapter is { TokenIndices.Count: > 0 } && info.Shape.Length == 2 && info.Shape[0] < shape[0] && info.Shape[1] == shape[1])
                {
                    // The base vocabulary grew by the SID tokens (HF's resize_token_embeddings): every new row must come from the adapter.
                    var covered = adapter.TokenIndices.ToHashSet();
                    for (long row = info.Shape[0]; row < shape[0]; row++)
                        if (!covered.Contains((int)row))
                            throw new CheckpointFormatException($"{dir}: embedding row {row} is beyond the base's {info.Shape[0]} rows and not in the adapter's trainable_token_indices");
                    var grown = new float[shape[0] * shape[1]];
                    file.ReadAsFloat32(info).CopyTo(grown, 0);
                    using var g = torch.tensor(grown, shape);
                    param.copy_(g);
                    continue;
                }
                if (!info.Shape.SequenceEqual(shape))
                    throw new CheckpointFormatException($"{file.Source}: '{name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", shape)}]");
                if (info.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16))
                    throw new CheckpointFormatException($"{file.Source}: '{name}' has dtype {SafeTensorsFile.DTypeName(info.DType)}; expected F32, F16 or BF16");
                var values = file.ReadAsFloat32(info);
                if (deltas.Remove(name, out var d))
                {
                    if (d.Out != shape[0] || d.In != shape[1])
                        throw new CheckpointFormatException($"{LoraAdapter.WeightsFile}: LoRA for '{name}' is [{d.Out}, {d.In}], the weight is [{string.Join(", ", shape)}]");
                    System.Numerics.Tensors.TensorPrimitives.Add(values, d.Delta, values);
                }
                using var t = torch.tensor(values, shape);
                param.copy_(t);
            }
            if (deltas.Count > 0)
                throw new CheckpointFormatException($"{LoraAdapter.WeightsFile}: adapter targets '{deltas.Keys.First()}', which the model does not have");
            if (adapter is { TokenIndices.Count: > 0 })
            {
                var embedding = expected[EmbeddingName];
                long hidden = embedding.shape[1];
                foreach (var id in adapter.TokenIndices)
                    if (id >= embedding.shape[0]) throw new CheckpointFormatException($"{dir}: trainable token id {id} is outside the vocabulary of {embedding.shape[0]}");
                var rows = adapter.TokenRows(hidden);
                using var values = torch.tensor(rows, [adapter.TokenIndices.Count, hidden]);
                using var index = torch.tensor(adapter.TokenIndices.Select(i => (long)i).ToArray());
                embedding.index_copy_(0, index, values);
            }
        }
        model.to(dt).to(device);
        foreach (var p in model.parameters()) p.requires_grad = false;
        log?.Invoke($"loaded {dir}: {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}, {dt} on {device}{(adapter is not null ? $", LoRA merged ({adapter.TokenIndices.Count} token rows)" : "")}");
        return model;
    }

    public const string EmbeddingName = "model.embed_tokens.weight";

    /// <summary>
    /// Where the weights are: the directory itself, or for an adapter-only directory (PEFT's layout) the adapter's
    /// base_model_name_or_path, absolute or relative to the directory.
    /// </summary>
    public static string WeightsDirectory(string dir, LoraAdapter? adapter)
    {
        if (File.Exists(Path.Combine(dir, SingleFile)) || File.Exists(Path.Combine(dir, IndexFile)) || adapter?.BaseModel is null) return dir;
        var basePath = Path.IsPathRooted(adapter.BaseModel) ? adapter.BaseModel : Path.GetFullPath(Path.Combine(dir, adapter.BaseModel));
        if (!Directory.Exists(basePath))
            throw new CheckpointFormatException($"{dir}: the adapter's base model '{adapter.BaseModel}' (base_model_name_or_path) is not a directory here; copy the base checkpoint there or edit {LoraAdapter.ConfigFile}");
        return basePath;
    }

    /// <summary>Maps every tensor name to the file holding it, for a single file or an index of shards.</summary>
    private static Dictionary<string, (SafeTensorsFile File, SafeTensorInfo Info)> OpenWeights(string dir)
    {
        var result = new Dictionary<string, (SafeTensorsFile, SafeTensorInfo)>(StringComparer.Ordinal);
        string index = Path.Combine(dir, IndexFile), single = Path.Combine(dir, SingleFile);
        IEnumerable<string> shardFiles;
        Dictionary<string, string>? weightMap = null;
        if (File.Exists(index))
        {
            weightMap = ReadIndex(index);
            shardFiles = weightMap.Values.Distinct(StringComparer.Ordinal);
        }
        else if (File.Exists(single)) shardFiles = [SingleFile];
        else throw new CheckpointFormatException($"{dir}: neither {SingleFile} nor {IndexFile} exists");

        foreach (var shard in shardFiles)
        {
            if (shard.Contains('/') || shard.Contains('\\') || shard.Contains(".."))
                throw new CheckpointFormatException($"{index}: shard name '{shard}' must be a file name in the model directory");
            string path = Path.Combine(dir, shard);
            if (!File.Exists(path)) throw new CheckpointFormatException($"{index}: shard '{shard}' does not exist");
            SafeTensorsFile file;
            try { file = SafeTensorsFile.Load(path); }
            catch (SafeTensorsFormatException e) { throw new CheckpointFormatException($"{path}: {e.Message}"); }
            foreach (var (name, info) in file.Tensors)
            {
                if (weightMap is not null && (!weightMap.TryGetValue(name, out var owner) || owner != shard))
                    throw new CheckpointFormatException($"{path}: tensor '{name}' is not mapped to this shard by {IndexFile}");
                if (!result.TryAdd(name, (file, info))) throw new CheckpointFormatException($"{path}: tensor '{name}' appears in more than one shard");
            }
        }
        if (weightMap is not null)
            foreach (var (name, shard) in weightMap)
                if (!result.ContainsKey(name)) throw new CheckpointFormatException($"{index}: '{name}' is mapped to '{shard}', which does not hold it");
        return result;
    }

    private static Dictionary<string, string> ReadIndex(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException($"{path}: 'weight_map' is missing or not an object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
                result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new CheckpointFormatException($"{path}: 'weight_map.{p.Name}' must be a file name");
            return result;
        }
        catch (JsonException e) { throw new CheckpointFormatException($"{path}: not valid JSON: {e.Message}"); }
    }
}
