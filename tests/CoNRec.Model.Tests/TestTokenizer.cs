using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CoNRec.Model.Tests;

/// <summary>
/// Writes a small but real Qwen-style tokenizer.json: 256 byte-level base tokens (id = byte value), a few dozen
/// hand-picked merges (ids 256.. in rank order), the chat special tokens, and L×K SID added tokens <c>&lt;a_0&gt;</c>...
/// Shared test infrastructure: other test projects link this file (<c>&lt;Compile Include=... Link=...&gt;</c>),
/// so it depends on the BCL and System.Text.Json only.
/// </summary>
public static class TestTokenizerBuilder
{
    /// <summary>Qwen2/Qwen3's pre-tokenizer regex (single-digit \p{N} splitting).</summary>
    public const string QwenPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    public static IReadOnlyList<string> SpecialTokens { get; } = [EndOfText, ImStart, ImEnd];

    /// <summary>
    /// Merges in rank order, in vocabulary spelling ('Ġ' = space, 'Ċ' = newline). Merge i creates token id 256 + i.
    /// Chosen so rank order matters: "h e" (rank 0) beats "e r" (rank 3), so " her" is [Ġ, he, r], not [Ġ, h, er].
    /// </summary>
    public static IReadOnlyList<(string A, string B)> Merges { get; } =
    [
        ("h", "e"), ("\u0120", "t"), ("\u0120t", "he"), ("e", "r"), ("u", "s"), ("us", "er"), ("\u0120", "user"),
        ("i", "k"), ("l", "ik"), ("lik", "e"), ("like", "d"), ("\u0120", "liked"),
        ("i", "s"), ("d", "is"), ("\u0120", "dis"), ("\u0120dis", "liked"), ("\u0120dis", "like"),
        ("T", "he"), ("i", "t"), ("e", "m"), ("it", "em"), ("\u0120", "item"), ("\u0120item", "s"),
        ("\u0120", "w"), ("i", "l"), ("il", "l"), ("\u0120w", "ill"),
        ("P", "r"), ("e", "d"), ("Pr", "ed"), ("i", "c"), ("Pred", "ic"), ("Predic", "t"),
        ("a", "s"), ("s", "t"), ("a", "n"), ("an", "t"), ("as", "s"), ("i", "st"), ("ass", "ist"), ("assist", "ant"),
        ("\u0120", "\u0120"), ("\u0120", "b"), ("1", "2"), ("\u010A", "\u010A"),
    ];

    /// <summary>First id after the base bytes and merges: the special tokens, then the SID tokens.</summary>
    public static int FirstSpecialId => 256 + Merges.Count;

    public static int FirstSidId => FirstSpecialId + SpecialTokens.Count;

    /// <summary>Id of a SID token, level-major: level l code c → FirstSidId + l·K + c.</summary>
    public static int SidTokenId(int level, int code, int codesPerLevel) => FirstSidId + level * codesPerLevel + code;

    /// <summary>LC-Rec's SID spelling for a level: &lt;a_{code}&gt;, &lt;b_{code}&gt;, ...</summary>
    public static string SidToken(int level, int code) => $"<{(char)('a' + level)}_{code}>";

    /// <summary>GPT-2's byte → character table (the vocabulary spelling of a byte).</summary>
    public static char ByteChar(byte b)
    {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (printable) return (char)b;
        int n = 0;
        for (int x = 0; x < b; x++)
        {
            bool p = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
            if (!p) n++;
        }
        return (char)(256 + n);
    }

    /// <summary>Vocabulary spelling of a text's UTF-8 bytes, e.g. " the" → "Ġthe".</summary>
    public static string ByteLevel(string text) => string.Concat(Encoding.UTF8.GetBytes(text).Select(ByteChar));

    /// <summary>
    /// The tokenizer.json as a mutable JSON tree, so tests can break one field at a time.
    /// <paramref name="omitSid"/> leaves chosen (level, code) SID tokens out (their ids stay reserved).
    /// </summary>
    public static JsonObject Build(int levels, int codesPerLevel, bool mergesAsArrays = true, Func<int, int, bool>? omitSid = null)
    {
        if (levels < 0 || levels > 8) throw new ArgumentOutOfRangeException(nameof(levels));
        if (codesPerLevel < 0) throw new ArgumentOutOfRangeException(nameof(codesPerLevel));

        var vocab = new JsonObject();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) Add(ByteChar((byte)b).ToString(), b);
        var merges = new JsonArray();
        foreach (var (a, b) in Merges)
        {
            if (!ids.ContainsKey(a) || !ids.ContainsKey(b)) throw new InvalidOperationException($"merge '{a} {b}' uses a token made by a later merge");
            Add(a + b, ids.Count);
            merges.Add(mergesAsArrays ? new JsonArray(a, b) : (JsonNode)$"{a} {b}");
        }

        var added = new JsonArray();
        int id = FirstSpecialId;
        foreach (var s in SpecialTokens) added.Add(AddedToken(id++, s, special: true));
        for (int l = 0; l < levels; l++)
        {
            for (int c = 0; c < codesPerLevel; c++, id++)
            {
                // Non-special, as transformers' add_tokens() creates them for LC-Rec.
                if (omitSid?.Invoke(l, c) != true) added.Add(AddedToken(id, SidToken(l, c), special: false));
            }
        }

        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false };
        return new JsonObject
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

        void Add(string token, int tokenId)
        {
            if (!ids.TryAdd(token, tokenId)) throw new InvalidOperationException($"token '{token}' made twice");
            vocab[token] = tokenId;
        }
    }

    /// <summary>
    /// Writes tokenizer.json and a Qwen-instruct-like tokenizer_config.json (eos &lt;|im_end|&gt;, pad &lt;|endoftext|&gt;)
    /// into <paramref name="directory"/>; returns the tokenizer.json path.
    /// </summary>
    public static string Write(string directory, int levels, int codesPerLevel, bool mergesAsArrays = true)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "tokenizer.json");
        File.WriteAllText(path, Build(levels, codesPerLevel, mergesAsArrays).ToJsonString());
        var config = new JsonObject
        {
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["bos_token"] = null,
            ["eos_token"] = ImEnd,
            ["pad_token"] = new JsonObject { ["content"] = EndOfText, ["special"] = true },
            ["model_max_length"] = 32768,
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        return path;
    }

    /// <summary>UTF-8 bytes of a JSON tree, for <c>HfTokenizer.FromJson</c>.</summary>
    public static byte[] ToBytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node);

    private static JsonObject AddedToken(int id, string content, bool special) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = false,
        ["lstrip"] = false,
        ["rstrip"] = false,
        ["normalized"] = !special,
        ["special"] = special,
    };
}
