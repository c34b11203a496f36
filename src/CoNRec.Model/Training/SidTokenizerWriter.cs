using System.Text;
using System.Text.Json.Nodes;
using CoNRec.Core;
using CoNRec.Model.Tokenization;

namespace CoNRec.Model.Training;

/// <summary>
/// Writes the tokenizer of a model trained from scratch on SID prompts: a real Qwen-style byte-level BPE
/// tokenizer.json (256 byte tokens with id = byte value, a few merges for the prompt words, the chat specials) plus
/// the L×K SID tokens as special added tokens, and a tokenizer_config.json naming EOS (<c>&lt;|im_end|&gt;</c>) and PAD
/// (<c>&lt;|endoftext|&gt;</c>). Any text still encodes (bytes are the fallback), so the same file serves the
/// generator, HF's tokenizers and the fine-tuner.
/// </summary>
public static class SidTokenizerWriter
{
    public const string TokenizerFile = "tokenizer.json";
    public const string ConfigFile = "tokenizer_config.json";
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    /// <summary>Qwen2/Qwen3's pre-tokenizer regex (digits split one by one).</summary>
    public const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>
    /// Words of the default and compact prompt templates that get merged into single tokens. Merges only shorten
    /// encodings; text without them still round-trips through the byte tokens.
    /// </summary>
    public static IReadOnlyList<string> MergedWords { get; } =
        ["The", " user", "user", " disliked", " dislike", " liked", " Predict", " items", " will", " the", "assistant", "\n\n"];

    // Token text verbatim ("<|im_end|>", not "\u003C|im_end|\u003E"), as HF writes it: people read and diff these files.
    private static readonly System.Text.Json.JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Keeps vocabularies sane: a SID space beyond this would not fit any embedding we train.</summary>
    public const int MaxSidTokens = 1 << 20;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="modelDir"/>; returns the vocabulary size (highest id + 1).</summary>
    public static int Write(string modelDir, int levels, int codesPerLevel, IReadOnlyList<string>? sidFormats = null)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        var (json, vocabSize) = Build(levels, codesPerLevel, sidFormats);
        Directory.CreateDirectory(modelDir);
        File.WriteAllText(Path.Combine(modelDir, TokenizerFile), json.ToJsonString(Json), new UTF8Encoding(false));
        var config = new JsonObject
        {
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["bos_token"] = null,
            ["eos_token"] = ImEnd,
            ["pad_token"] = EndOfText,
            ["unk_token"] = null,
            ["add_bos_token"] = false,
            ["clean_up_tokenization_spaces"] = false,
            ["model_max_length"] = 32768,
        };
        File.WriteAllText(Path.Combine(modelDir, ConfigFile), config.ToJsonString(Json), new UTF8Encoding(false));
        return vocabSize;
    }

    /// <summary>The tokenizer.json tree and its vocabulary size, without touching the disk.</summary>
    public static (JsonObject Json, int VocabSize) Build(int levels, int codesPerLevel, IReadOnlyList<string>? sidFormats = null)
    {
        if (levels < 1 || levels > SidLayout.MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels must be in [1, {SidLayout.MaxLevels}]");
        if (codesPerLevel < 1 || (long)levels * codesPerLevel > MaxSidTokens)
            throw new ArgumentOutOfRangeException(nameof(codesPerLevel), codesPerLevel, $"codesPerLevel must be >= 1 and levels × codesPerLevel <= {MaxSidTokens}");
        var formats = sidFormats ?? SidTokenMap.DefaultFormats(levels);
        if (formats.Count != levels)
            throw new ArgumentException($"{formats.Count} SID token formats given for {levels} levels; need one per level", nameof(sidFormats));

        var vocab = new JsonObject();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) Add(ByteLevelAlphabet.ToChar((byte)b).ToString());

        var merges = new JsonArray();
        foreach (var word in MergedWords)
        {
            // Left-to-right chain: "Ġuser" = ((((Ġ u) s) e) r). Each step's parts already exist, as BPE requires.
            string spelled = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(word));
            string current = spelled[..1];
            for (int i = 1; i < spelled.Length; i++)
            {
                string next = current + spelled[i];
                if (!ids.ContainsKey(next))
                {
                    merges.Add(new JsonArray(current, spelled[i].ToString()));
                    Add(next);
                }
                current = next;
            }
        }

        var added = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int id = ids.Count;
        foreach (var s in (string[])[EndOfText, ImStart, ImEnd]) added.Add(AddedToken(id++, s));
        for (int l = 0; l < levels; l++)
        {
            string f = formats[l] ?? throw new ArgumentException($"SID token format for level {l} is null", nameof(sidFormats));
            int at = f.IndexOf(SidTokenMap.CodePlaceholder, StringComparison.Ordinal);
            if (at < 0 || f.IndexOf(SidTokenMap.CodePlaceholder, at + 1, StringComparison.Ordinal) >= 0)
                throw new ArgumentException($"SID token format for level {l} (\"{f}\") must contain {SidTokenMap.CodePlaceholder} exactly once", nameof(sidFormats));
            for (int c = 0; c < codesPerLevel; c++)
            {
                string token = f.Replace(SidTokenMap.CodePlaceholder, c.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
                if (!seen.Add(token) || token is EndOfText or ImStart or ImEnd)
                    throw new ArgumentException($"SID token '{token}' (level {l}, code {c}) appears twice; the formats must give distinct tokens", nameof(sidFormats));
                // special = true: matched before BPE and never split, and skipped by HF decode(skip_special_tokens).
                added.Add(AddedToken(id++, token));
            }
        }

        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false };
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split",
                        ["pattern"] = new JsonObject { ["Regex"] = QwenPattern },
                        ["behavior"] = "Isolated",
                        ["invert"] = false,
                    },
                    byteLevel.DeepClone()),
            },
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
        return (json, id);

        void Add(string token)
        {
            ids.Add(token, ids.Count);
            vocab[token] = ids[token];
        }
    }

    /// <summary>
    /// A base checkpoint's tokenizer plus the SID tokens, as <c>tokenizer.add_tokens(..., special_tokens=True)</c> does:
    /// tokenizer.json (and the other tokenizer files) copied from <paramref name="baseDir"/> into <paramref name="modelDir"/>,
    /// each SID token the base lacks appended as a special added token after the highest existing id, and
    /// tokenizer_config.json's <c>added_tokens_decoder</c> kept in step. Returns the vocabulary size (highest id + 1).
    /// A SID token the base already has (a base trained here earlier) keeps its id.
    /// </summary>
    public static int Extend(string baseDir, string modelDir, int levels, int codesPerLevel, IReadOnlyList<string>? sidFormats = null)
    {
        ArgumentNullException.ThrowIfNull(baseDir);
        ArgumentNullException.ThrowIfNull(modelDir);
        string source = Path.Combine(baseDir, TokenizerFile);
        if (!File.Exists(source)) throw new ArgumentException($"base model '{baseDir}' has no {TokenizerFile}");
        Directory.CreateDirectory(modelDir);
        foreach (var name in new[] { "vocab.json", "merges.txt", "special_tokens_map.json", "generation_config.json" })
            if (File.Exists(Path.Combine(baseDir, name))) File.Copy(Path.Combine(baseDir, name), Path.Combine(modelDir, name), overwrite: true);
        var json = JsonNode.Parse(File.ReadAllText(source)) as JsonObject ?? throw new ArgumentException($"{source}: not a JSON object");
        var added = json["added_tokens"] as JsonArray ?? new JsonArray();
        json["added_tokens"] = added;
        var existing = new Dictionary<string, int>(StringComparer.Ordinal);
        int maxId = -1;
        foreach (var t in added)
        {
            if (t?["content"]?.GetValue<string>() is { } content && t["id"]?.GetValue<int>() is { } tid) { existing[content] = tid; maxId = Math.Max(maxId, tid); }
        }
        if (json["model"]?["vocab"] is JsonObject vocab)
            foreach (var (_, v) in vocab) if (v is not null) maxId = Math.Max(maxId, v.GetValue<int>());
        var formats = sidFormats ?? SidTokenMap.DefaultFormats(levels);
        var fresh = new List<(int Id, string Token)>();
        int next = maxId + 1;
        for (int l = 0; l < levels; l++)
            for (int c = 0; c < codesPerLevel; c++)
            {
                string token = formats[l].Replace(SidTokenMap.CodePlaceholder, c.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
                if (existing.ContainsKey(token)) continue;
                added.Add(AddedToken(next, token));
                fresh.Add((next, token));
                existing[token] = next++;
            }
        File.WriteAllText(Path.Combine(modelDir, TokenizerFile), json.ToJsonString(Json), new UTF8Encoding(false));

        string configPath = Path.Combine(baseDir, ConfigFile);
        var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject ?? new JsonObject() : new JsonObject();
        if (config["added_tokens_decoder"] is JsonObject decoder)
            foreach (var (fid, token) in fresh)
                decoder[fid.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
                {
                    ["content"] = token, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false, ["single_word"] = false, ["special"] = true,
                };
        File.WriteAllText(Path.Combine(modelDir, ConfigFile), config.ToJsonString(Json), new UTF8Encoding(false));
        return next;
    }

    private static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = false,
        ["special"] = true,
    };
}
