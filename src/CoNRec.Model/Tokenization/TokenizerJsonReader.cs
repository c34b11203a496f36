using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CoNRec.Model.Tokenization;

/// <summary>What <see cref="TokenizerJsonReader"/> extracts from a tokenizer.json after validating it.</summary>
internal sealed record TokenizerDefinition(
    Dictionary<string, int> Vocab,
    List<string> Merges,
    List<AddedToken> AddedTokens,
    bool Nfc,
    Regex PreTokenizerRegex);

/// <summary>
/// Reads the byte-level BPE family of HF tokenizer.json (Qwen2/Qwen3, GPT-2 style) and rejects everything else
/// with a message naming the field: a tokenizer we silently mis-handle would feed the model wrong ids.
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>Ids must fit the model's embedding table; 2^24 is far above any real vocabulary.</summary>
    public const int MaxTokenId = (1 << 24) - 1;

    // GPT-2's pattern, what HF's ByteLevel pre-tokenizer applies when use_regex is true.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    // A hostile or broken pattern must not hang a batch job.
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);

    public static TokenizerDefinition Parse(ReadOnlySpan<byte> json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(WithoutBom(json).ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(source, "$", $"is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error(source, "$", $"must be a JSON object, not {root.ValueKind}");

            var model = Required(root, "model", source, "");
            if (model.ValueKind != JsonValueKind.Object) throw Error(source, "model", $"must be an object, not {model.ValueKind}");
            CheckModelType(model, source);
            CheckModelOptions(model, source);

            var vocab = ReadVocab(model, source);
            var merges = ReadMerges(model, vocab, source);
            var added = ReadAddedTokens(root, vocab, source);
            CheckByteAlphabet(vocab, source);

            bool nfc = ReadNormalizer(root, source);
            var regex = ReadPreTokenizer(root, source);
            CheckDecoder(root, source);
            CheckPostProcessor(root, source);
            return new TokenizerDefinition(vocab, merges, added, nfc, regex);
        }
    }

    /// <summary>Editors on Windows may prepend a UTF-8 BOM, which JsonDocument does not skip for byte input.</summary>
    internal static ReadOnlySpan<byte> WithoutBom(ReadOnlySpan<byte> json) => json.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? json[3..] : json;

    private static void CheckModelType(JsonElement model, string source)
    {
        if (model.TryGetProperty("type", out var type))
        {
            if (type.ValueKind != JsonValueKind.String || type.GetString() != "BPE")
                throw Error(source, "model.type", $"is {Show(type)}; only \"BPE\" (byte-level, as in Qwen) is supported");
        }
        else if (!model.TryGetProperty("merges", out _))
        {
            // Old serialisations omit the tag; only a model with merges can be a BPE.
            throw Error(source, "model.type", "is missing and the model has no merges; only \"BPE\" is supported");
        }
    }

    private static void CheckModelOptions(JsonElement model, string source)
    {
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null)
            throw Error(source, "model.dropout", $"is {Show(dropout)}; BPE dropout makes encoding random and is not supported (expected null)");
        foreach (var name in (string[])["continuing_subword_prefix", "end_of_word_suffix"])
        {
            if (model.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
                && !(v.ValueKind == JsonValueKind.String && v.GetString()!.Length == 0))
                throw Error(source, $"model.{name}", $"is {Show(v)}; byte-level BPE uses none (expected null or \"\")");
        }
        foreach (var name in (string[])["byte_fallback", "ignore_merges"])
        {
            if (model.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True)
                throw Error(source, $"model.{name}", "is true; not supported by this loader (expected false)");
        }
    }

    private static Dictionary<string, int> ReadVocab(JsonElement model, string source)
    {
        var node = Required(model, "vocab", source, "model.");
        if (node.ValueKind != JsonValueKind.Object) throw Error(source, "model.vocab", $"must be an object of token → id, not {node.ValueKind}");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var byId = new Dictionary<int, string>();
        foreach (var p in node.EnumerateObject())
        {
            string field = $"model.vocab[{Quote(p.Name)}]";
            int id = ReadId(p.Value, field, source);
            if (!vocab.TryAdd(p.Name, id)) throw Error(source, field, "appears twice");
            if (!byId.TryAdd(id, p.Name)) throw Error(source, field, $"has id {id}, which {Quote(byId[id])} already uses; ids must be unique");
        }
        if (vocab.Count == 0) throw Error(source, "model.vocab", "is empty");
        return vocab;
    }

    private static List<string> ReadMerges(JsonElement model, Dictionary<string, int> vocab, string source)
    {
        var merges = new List<string>();
        if (!model.TryGetProperty("merges", out var node) || node.ValueKind == JsonValueKind.Null) return merges;
        if (node.ValueKind != JsonValueKind.Array) throw Error(source, "model.merges", $"must be an array, not {node.ValueKind}");
        int i = 0;
        foreach (var m in node.EnumerateArray())
        {
            string field = $"model.merges[{i++}]";
            string a, b;
            if (m.ValueKind == JsonValueKind.String)
            {
                // Legacy "a b" form: byte-level tokens never contain a literal space ('Ġ' stands for it).
                var parts = m.GetString()!.Split(' ');
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                    throw Error(source, field, $"is {Show(m)}; expected two tokens separated by one space");
                (a, b) = (parts[0], parts[1]);
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
                     && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
            {
                (a, b) = (m[0].GetString()!, m[1].GetString()!);
                if (a.Length == 0 || b.Length == 0 || a.Contains(' ', StringComparison.Ordinal) || b.Contains(' ', StringComparison.Ordinal))
                    throw Error(source, field, $"is {Show(m)}; merge parts must be non-empty and contain no space");
            }
            else
            {
                throw Error(source, field, $"is {Show(m)}; expected \"a b\" or [\"a\", \"b\"]");
            }
            if (!vocab.ContainsKey(a)) throw Error(source, field, $"references {Quote(a)}, which is not in model.vocab");
            if (!vocab.ContainsKey(b)) throw Error(source, field, $"references {Quote(b)}, which is not in model.vocab");
            if (!vocab.ContainsKey(a + b)) throw Error(source, field, $"produces {Quote(a + b)}, which is not in model.vocab");
            merges.Add(a + " " + b);
        }
        return merges;
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, Dictionary<string, int> vocab, string source)
    {
        var added = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var node) || node.ValueKind == JsonValueKind.Null) return added;
        if (node.ValueKind != JsonValueKind.Array) throw Error(source, "added_tokens", $"must be an array, not {node.ValueKind}");

        var vocabById = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab) vocabById[id] = token;
        var seenIds = new Dictionary<int, string>();
        var seenContent = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var t in node.EnumerateArray())
        {
            string field = $"added_tokens[{i++}]";
            if (t.ValueKind != JsonValueKind.Object) throw Error(source, field, $"must be an object, not {t.ValueKind}");
            int id = ReadId(Required(t, "id", source, field + "."), field + ".id", source);
            var contentNode = Required(t, "content", source, field + ".");
            if (contentNode.ValueKind != JsonValueKind.String || contentNode.GetString()!.Length == 0)
                throw Error(source, field + ".content", $"is {Show(contentNode)}; expected a non-empty string");
            string content = contentNode.GetString()!;
            bool special = t.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True;
            foreach (var flag in (string[])["single_word", "lstrip", "rstrip"])
            {
                if (t.TryGetProperty(flag, out var f) && f.ValueKind == JsonValueKind.True)
                    throw Error(source, $"{field}.{flag}", $"is true for {Quote(content)}; not supported (Qwen's added tokens use false)");
            }
            if (!seenContent.Add(content)) throw Error(source, field + ".content", $"{Quote(content)} appears twice");
            if (!seenIds.TryAdd(id, content)) throw Error(source, field + ".id", $"{id} is already used by added token {Quote(seenIds[id])}");
            // An added token may repeat a vocab entry with the same id (some exports do), never take another's id.
            if (vocabById.TryGetValue(id, out var other) && other != content)
                throw Error(source, field + ".id", $"{id} of {Quote(content)} is already model.vocab's id for {Quote(other)}");
            if (vocab.TryGetValue(content, out int vocabId) && vocabId != id)
                throw Error(source, field + ".id", $"{id} differs from model.vocab's id {vocabId} for {Quote(content)}");
            added.Add(new AddedToken(id, content, special));
        }
        return added;
    }

    private static void CheckByteAlphabet(Dictionary<string, int> vocab, string source)
    {
        // Without all 256 byte symbols some input bytes would be dropped silently (no unk in byte-level BPE).
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteLevelAlphabet.ToChar((byte)b).ToString();
            if (!vocab.ContainsKey(symbol))
                throw Error(source, "model.vocab", $"lacks the byte-level symbol {Quote(symbol)} for byte 0x{b:X2}; not a byte-level BPE vocabulary");
        }
        foreach (var token in vocab.Keys)
        {
            foreach (char c in token)
            {
                if (!ByteLevelAlphabet.TryToByte(c, out _))
                    throw Error(source, $"model.vocab[{Quote(token)}]", $"contains U+{(int)c:X4}, which is not a byte-level symbol; not a byte-level BPE vocabulary");
            }
        }
    }

    private static bool ReadNormalizer(JsonElement root, string source)
    {
        if (!root.TryGetProperty("normalizer", out var node) || node.ValueKind == JsonValueKind.Null) return false;
        return NormalizerIsNfc(node, "normalizer", source);
    }

    private static bool NormalizerIsNfc(JsonElement node, string field, string source)
    {
        if (node.ValueKind != JsonValueKind.Object) throw Error(source, field, $"must be an object or null, not {node.ValueKind}");
        string type = TypeOf(node, field, source);
        switch (type)
        {
            case "NFC":
                return true;
            case "Sequence":
                var items = Required(node, "normalizers", source, field + ".");
                if (items.ValueKind != JsonValueKind.Array) throw Error(source, field + ".normalizers", "must be an array");
                bool nfc = false;
                int i = 0;
                foreach (var item in items.EnumerateArray()) nfc |= NormalizerIsNfc(item, $"{field}.normalizers[{i++}]", source);
                return nfc;
            default:
                throw Error(source, field + ".type", $"is \"{type}\"; only NFC (alone or in a Sequence) or null is supported");
        }
    }

    private static Regex ReadPreTokenizer(JsonElement root, string source)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var node) || node.ValueKind == JsonValueKind.Null)
            throw Error(source, "pre_tokenizer", "is missing; byte-level BPE needs a ByteLevel pre-tokenizer");
        if (node.ValueKind != JsonValueKind.Object) throw Error(source, "pre_tokenizer", $"must be an object, not {node.ValueKind}");

        var steps = new List<(JsonElement Node, string Field)>();
        if (TypeOf(node, "pre_tokenizer", source) == "Sequence")
        {
            var items = Required(node, "pretokenizers", source, "pre_tokenizer.");
            if (items.ValueKind != JsonValueKind.Array) throw Error(source, "pre_tokenizer.pretokenizers", "must be an array");
            int i = 0;
            foreach (var item in items.EnumerateArray()) steps.Add((item, $"pre_tokenizer.pretokenizers[{i++}]"));
        }
        else
        {
            steps.Add((node, "pre_tokenizer"));
        }

        // Supported: [Split(Regex, Isolated)] then ByteLevel(use_regex false) as in Qwen, or ByteLevel(use_regex true) alone as in GPT-2.
        string? pattern = null;
        bool byteLevel = false;
        foreach (var (step, field) in steps)
        {
            if (step.ValueKind != JsonValueKind.Object) throw Error(source, field, $"must be an object, not {step.ValueKind}");
            if (byteLevel) throw Error(source, field, "follows the ByteLevel step; ByteLevel must be the last pre-tokenizer");
            string type = TypeOf(step, field, source);
            if (type == "Split")
            {
                if (pattern is not null) throw Error(source, field, "is a second Split; only one is supported");
                pattern = ReadSplitPattern(step, field, source);
            }
            else if (type == "ByteLevel")
            {
                if (step.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True)
                    throw Error(source, field + ".add_prefix_space", "is true; not supported (Qwen uses false)");
                bool useRegex = !step.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False;
                if (useRegex)
                {
                    if (pattern is not null) throw Error(source, field + ".use_regex", "is true after a Split; two regex splits in a row are not supported");
                    pattern = Gpt2Pattern;
                }
                byteLevel = true;
            }
            else
            {
                throw Error(source, field + ".type", $"is \"{type}\"; only Split (with a Regex) and ByteLevel are supported");
            }
        }
        if (!byteLevel) throw Error(source, "pre_tokenizer", "has no ByteLevel step; only byte-level BPE is supported");
        if (pattern is null) throw Error(source, "pre_tokenizer", "has no Split regex and ByteLevel.use_regex is false; text would not be split into words");

        // HF matches on code points; the translation makes the .NET regex do the same on UTF-16 (astral letters,
        // digits and emoji stay whole). A pattern outside the translated subset is compiled as it is.
        string dotnetPattern = CodePointPattern.Translate(pattern) ?? pattern;
        try
        {
            return new Regex(dotnetPattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException(source, "pre_tokenizer", $"regex does not compile with .NET Regex: {e.Message}", e);
        }
    }

    private static string ReadSplitPattern(JsonElement step, string field, string source)
    {
        var patternNode = Required(step, "pattern", source, field + ".");
        if (patternNode.ValueKind != JsonValueKind.Object || !patternNode.TryGetProperty("Regex", out var regex) || regex.ValueKind != JsonValueKind.String)
            throw Error(source, field + ".pattern", $"is {Show(patternNode)}; only {{\"Regex\": \"...\"}} is supported");
        if (step.TryGetProperty("behavior", out var behavior) && (behavior.ValueKind != JsonValueKind.String || behavior.GetString() != "Isolated"))
            throw Error(source, field + ".behavior", $"is {Show(behavior)}; only \"Isolated\" is supported");
        if (step.TryGetProperty("invert", out var invert) && invert.ValueKind == JsonValueKind.True)
            throw Error(source, field + ".invert", "is true; not supported");
        string pattern = regex.GetString()!;
        if (pattern.Length == 0) throw Error(source, field + ".pattern.Regex", "is empty");
        return pattern;
    }

    private static void CheckDecoder(JsonElement root, string source)
    {
        if (!root.TryGetProperty("decoder", out var node) || node.ValueKind == JsonValueKind.Null) return;
        if (node.ValueKind != JsonValueKind.Object) throw Error(source, "decoder", $"must be an object or null, not {node.ValueKind}");
        string type = TypeOf(node, "decoder", source);
        if (type != "ByteLevel") throw Error(source, "decoder.type", $"is \"{type}\"; only ByteLevel is supported");
    }

    private static void CheckPostProcessor(JsonElement root, string source)
    {
        if (!root.TryGetProperty("post_processor", out var node) || node.ValueKind == JsonValueKind.Null) return;
        if (node.ValueKind != JsonValueKind.Object) throw Error(source, "post_processor", $"must be an object or null, not {node.ValueKind}");
        string type = TypeOf(node, "post_processor", source);
        // TemplateProcessing would add BOS/EOS ids that prompts built here would lack.
        if (type != "ByteLevel") throw Error(source, "post_processor.type", $"is \"{type}\"; only ByteLevel or null is supported");
    }

    private static int ReadId(JsonElement value, string field, string source)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long id))
            throw Error(source, field, $"is {Show(value)}; expected an integer id");
        if (id < 0) throw Error(source, field, $"is {id}; ids must be non-negative");
        if (id > MaxTokenId) throw Error(source, field, $"is {id}; ids must be below 2^24 ({MaxTokenId + 1})");
        return (int)id;
    }

    private static string TypeOf(JsonElement node, string field, string source)
    {
        var type = Required(node, "type", source, field + ".");
        if (type.ValueKind != JsonValueKind.String) throw Error(source, field + ".type", $"is {Show(type)}; expected a string");
        return type.GetString()!;
    }

    private static JsonElement Required(JsonElement obj, string name, string source, string prefix)
    {
        if (!obj.TryGetProperty(name, out var value)) throw Error(source, prefix + name, "is missing");
        return value;
    }

    private static TokenizerFormatException Error(string source, string field, string problem) => new(source, field, problem);

    // Relaxed escaping keeps byte-level symbols such as 'Ġ' readable in messages.
    private static readonly JsonSerializerOptions QuoteOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Quote(string s) => JsonSerializer.Serialize(s, QuoteOptions);

    private static string Show(JsonElement e)
    {
        string raw = e.GetRawText();
        return raw.Length <= 80 ? raw : raw[..77] + "...";
    }
}
