using System.Security.Cryptography;
using System.Text.Json;
using CoNRec.Core;
using CoNRec.Model.Checkpoint;
using CoNRec.Model.Generation;
using CoNRec.Model.Prompting;
using CoNRec.Model.Qwen3;
using CoNRec.Model.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace CoNRec.Model.Bundle;

public sealed class BundleFormatException(string message) : FormatException(message);

/// <summary>
/// Everything the generator needs from one directory, described by <c>bundle.json</c>:
/// <code>
/// { "model": "model",                       // HF checkpoint dir (config.json, safetensors, tokenizer.json, optional LoRA)
///   "codebook": "codebook.safetensors",     // [L, K, d]; its content hash names the generation's codebook
///   "catalog": "catalog.jsonl",             // item → SID; the beam search may only emit these SIDs
///   "sid_tokens": ["&lt;a_{code}&gt;", "&lt;b_{code}&gt;", "&lt;c_{code}&gt;"],   // optional, one format per level
///   "prompt": { ... },                      // optional PromptTemplate: must match fine-tuning
///   "beam_width": 20, "top_k": 20,          // optional
///   "profile": { "recent_negatives": 10, "recent_positives": 10 } }   // optional: the stored profile's recent parts
/// </code>
/// Paths are relative to the bundle directory. The <see cref="Fingerprint"/> hashes every input that changes
/// predictions, so a rerun with anything different can never resume into an older generation.
/// </summary>
public sealed class ModelBundle
{
    public const string ManifestFile = "bundle.json";

    public required string Directory { get; init; }
    public required string ModelDirectory { get; init; }
    public required Codebook Codebook { get; init; }
    public required IReadOnlyDictionary<string, ulong> Catalog { get; init; }
    public required HfTokenizer Tokenizer { get; init; }
    public required SidTokenMap SidTokens { get; init; }
    public required PromptTemplate Prompt { get; init; }
    public required BeamSearchOptions Beam { get; init; }
    public required string Fingerprint { get; init; }

    /// <summary>How many recent negatives and positives <c>generate</c> stores beside the predicted SIDs (0 = none).</summary>
    public int RecentNegatives { get; init; } = RecentSids.DefaultNegatives;
    public int RecentPositives { get; init; } = RecentSids.DefaultPositives;

    public static ModelBundle Load(string dir)
    {
        string manifestPath = Path.Combine(dir, ManifestFile);
        if (!File.Exists(manifestPath)) throw new BundleFormatException($"{manifestPath}: bundle manifest not found");
        var manifestBytes = File.ReadAllBytes(manifestPath);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(manifestBytes); }
        catch (JsonException e) { throw new BundleFormatException($"{manifestPath}: not valid JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new BundleFormatException($"{manifestPath}: expected a JSON object");
            string PathOf(string field, string fallback)
            {
                string rel = root.TryGetProperty(field, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new BundleFormatException($"{manifestPath}: '{field}' must be a path string") : fallback;
                string full = Path.GetFullPath(Path.Combine(dir, rel));
                if (!File.Exists(full) && !System.IO.Directory.Exists(full)) throw new BundleFormatException($"{manifestPath}: '{field}' = '{rel}' does not exist");
                return full;
            }
            string modelDir = PathOf("model", "model"), codebookPath = PathOf("codebook", "codebook.safetensors"), catalogPath = PathOf("catalog", "catalog.jsonl");

            Codebook codebook;
            try { codebook = Codebook.Load(codebookPath); }
            catch (FormatException e) { throw new BundleFormatException($"{codebookPath}: {e.Message}"); }
            var catalog = LoadCatalog(catalogPath, codebook.Layout);

            var tokenizer = HfTokenizer.LoadDirectory(modelDir);
            IReadOnlyList<string>? formats = null;
            if (root.TryGetProperty("sid_tokens", out var st))
            {
                if (st.ValueKind != JsonValueKind.Array || st.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                    throw new BundleFormatException($"{manifestPath}: 'sid_tokens' must be a list of format strings such as \"<a_{{code}}>\"");
                formats = [.. st.EnumerateArray().Select(e => e.GetString()!)];
                if (formats.Count != codebook.Levels)
                    throw new BundleFormatException($"{manifestPath}: 'sid_tokens' has {formats.Count} formats, the codebook has {codebook.Levels} levels");
            }
            var sidTokens = SidTokenMap.Create(tokenizer, codebook.Levels, codebook.CodesPerLevel, formats);

            var prompt = root.TryGetProperty("prompt", out var p) ? PromptTemplate.FromJson(p) : new PromptTemplate();
            var beam = new BeamSearchOptions
            {
                BeamWidth = Int(root, "beam_width", 20, manifestPath),
                TopK = Int(root, "top_k", 20, manifestPath),
            };
            try { beam.Validate(); }
            catch (ArgumentException e) { throw new BundleFormatException($"{manifestPath}: {e.Message}"); }
            int recentNegatives = RecentSids.DefaultNegatives, recentPositives = RecentSids.DefaultPositives;
            if (root.TryGetProperty("profile", out var profile))
            {
                if (profile.ValueKind != JsonValueKind.Object) throw new BundleFormatException($"{manifestPath}: 'profile' must be an object");
                recentNegatives = Int(profile, "recent_negatives", recentNegatives, manifestPath);
                recentPositives = Int(profile, "recent_positives", recentPositives, manifestPath);
                foreach (var (name, value) in new[] { ("recent_negatives", recentNegatives), ("recent_positives", recentPositives) })
                    if (value is < 0 or > SidSetCodec.MaxCount) throw new BundleFormatException($"{manifestPath}: 'profile.{name}' = {value} must be in [0, {SidSetCodec.MaxCount}]");
            }

            return new ModelBundle
            {
                Directory = dir, ModelDirectory = modelDir, Codebook = codebook, Catalog = catalog, Tokenizer = tokenizer,
                SidTokens = sidTokens, Prompt = prompt, Beam = beam, RecentNegatives = recentNegatives, RecentPositives = recentPositives,
                Fingerprint = ComputeFingerprint(manifestBytes, codebook, catalogPath, modelDir),
            };
        }
    }

    /// <summary>Loads the model this bundle names (bf16 on CUDA, f32 on CPU unless <paramref name="dtype"/> says otherwise).</summary>
    public Qwen3ForCausalLM LoadModel(Device device, Action<string>? log = null, ScalarType? dtype = null)
    {
        var model = Qwen3Checkpoint.Load(ModelDirectory, device, dtype, log);
        if (Tokenizer.VocabSize > model.Config.VocabSize)
            throw new BundleFormatException($"{ModelDirectory}: tokenizer has {Tokenizer.VocabSize} ids but the model's 'vocab_size' is {model.Config.VocabSize}");
        return model;
    }

    /// <summary>The catalog trie on <paramref name="device"/>, keyed to this bundle's SID tokens.</summary>
    public SidTrie BuildTrie(int vocabSize, Device device) =>
        SidTrie.Build(Codebook.Layout, Catalog.Values, [.. Enumerable.Range(0, Codebook.Levels).Select(SidTokens.LevelTokenIds)], vocabSize, device);

    public PromptBuilder CreatePromptBuilder() => new(Prompt, SidTokens, Tokenizer, Catalog, Codebook.Layout);

    /// <summary>A valid id to pad prompts with (its value never matters: padded keys are masked).</summary>
    public int PadTokenId => Tokenizer.PadTokenId ?? Tokenizer.EosTokenId ?? 0;

    private static Dictionary<string, ulong> LoadCatalog(string path, SidLayout layout)
    {
        var catalog = new Dictionary<string, ulong>(StringComparer.Ordinal);
        using var stream = File.OpenRead(path);
        foreach (var (line, bytes) in JsonlInput.ReadLines(stream, path))
        {
            var entry = JsonlInput.ParseCatalogLine(bytes, layout, path, line);
            if (!catalog.TryAdd(entry.ItemId, entry.Sid))
                throw new InputFormatException(path, line, $"item '{entry.ItemId}' appears twice");
        }
        if (catalog.Count == 0) throw new BundleFormatException($"{path}: the catalog is empty");
        return catalog;
    }

    private static int Int(JsonElement root, string name, int fallback, string source)
    {
        if (!root.TryGetProperty(name, out var v)) return fallback;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int x)) throw new BundleFormatException($"{source}: '{name}' must be an integer");
        return x;
    }

    private static string ComputeFingerprint(byte[] manifest, Codebook codebook, string catalogPath, string modelDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(manifest);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(codebook.ContentHash));
        foreach (var file in new[] { catalogPath }.Concat(System.IO.Directory.EnumerateFiles(modelDir).Order(StringComparer.Ordinal)))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file)));
            using var s = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            int n;
            while ((n = s.Read(buffer)) > 0) sha.AppendData(buffer.AsSpan(0, n));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
