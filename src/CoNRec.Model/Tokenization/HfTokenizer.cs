using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace CoNRec.Model.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json of the byte-level BPE family (Qwen2/Qwen3), encoding as HF does:
/// added tokens (special or not, e.g. SID tokens <c>&lt;a_12&gt;</c>) are cut out of the raw text first and map
/// to their own ids; the text between them is NFC-normalized, split by the pre-tokenizer regex and BPE-merged
/// by ML.Tokenizers. Immutable after loading.
/// </summary>
public sealed class HfTokenizer
{
    /// <summary>Refuse larger files: Qwen's tokenizer.json is ~11 MB; anything near this is not a tokenizer.</summary>
    public const long DefaultMaxFileBytes = 100L * 1024 * 1024;

    /// <summary>tokenizer_config.json is small; a bigger one is refused with the same kind of error.</summary>
    public const long MaxConfigBytes = 16L * 1024 * 1024;

    private readonly BpeTokenizer _bpe;
    private readonly AddedTokenMatcher _matcher;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<int, string> _vocabById;

    private HfTokenizer(TokenizerDefinition def, string source)
    {
        Source = source;
        _vocab = def.Vocab;
        _vocabById = new Dictionary<int, string>(_vocab.Count);
        foreach (var (token, id) in _vocab) _vocabById[id] = token;
        _addedByContent = def.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        _addedById = def.AddedTokens.ToDictionary(t => t.Id);
        AddedTokens = def.AddedTokens;
        _matcher = new AddedTokenMatcher(_addedByContent);

        int maxId = _vocab.Values.Max();
        foreach (var t in def.AddedTokens) maxId = Math.Max(maxId, t.Id);
        VocabSize = maxId + 1;

        var options = new BpeOptions(_vocab)
        {
            Merges = def.Merges,
            PreTokenizer = new IsolatedRegexPreTokenizer(def.PreTokenizerRegex),
            Normalizer = def.Nfc ? NfcNormalizer.Instance : null,
            ByteLevel = true,
        };
        try
        {
            _bpe = BpeTokenizer.Create(options);
        }
        catch (InvalidOperationException e)
        {
            // The reader validates what ML.Tokenizers checks; this only guards against a gap between the two.
            throw new TokenizerFormatException(source, "model", $"rejected by ML.Tokenizers: {e.Message}", e);
        }
    }

    /// <summary>The path or name the tokenizer was loaded from, for messages.</summary>
    public string Source { get; }

    /// <summary>Highest id (vocab or added token) + 1: the smallest embedding table that covers every token.</summary>
    public int VocabSize { get; }

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>From tokenizer_config.json's <c>eos_token</c> when loaded with <see cref="LoadDirectory"/>; else null.</summary>
    public int? EosTokenId { get; private set; }

    public string? EosToken { get; private set; }

    /// <summary>From tokenizer_config.json's <c>pad_token</c> when loaded with <see cref="LoadDirectory"/>; else null.</summary>
    public int? PadTokenId { get; private set; }

    public string? PadToken { get; private set; }

    public static HfTokenizer Load(string path, long maxBytes = DefaultMaxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromJson(ReadLimited(path, maxBytes), path, maxBytes);
    }

    public static HfTokenizer FromJson(ReadOnlySpan<byte> json, string source, long maxBytes = DefaultMaxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (json.Length > maxBytes)
            throw new TokenizerFormatException(source, "$", $"is {json.Length} bytes; the limit is {maxBytes}");
        return new HfTokenizer(TokenizerJsonReader.Parse(json, source), source);
    }

    /// <summary>
    /// A checkpoint directory: tokenizer.json (required) and, when present, tokenizer_config.json for the
    /// EOS and PAD tokens (a string or <c>{"content": ...}</c>).
    /// </summary>
    public static HfTokenizer LoadDirectory(string directory, long maxBytes = DefaultMaxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var tokenizer = Load(Path.Combine(directory, "tokenizer.json"), maxBytes);
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        if (File.Exists(configPath)) tokenizer.ApplyConfig(ReadLimited(configPath, MaxConfigBytes), configPath);
        return tokenizer;
    }

    /// <summary>Token ids of <paramref name="text"/>; no BOS/EOS is added (Qwen adds none).</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        EncodeInto(text, ids);
        return ids;
    }

    /// <summary>Same count as <c>Encode(text).Count</c>.</summary>
    public int CountTokens(string text) => Encode(text).Count;

    /// <summary>
    /// Text of <paramref name="ids"/>: added tokens verbatim, BPE tokens through the byte-level table,
    /// invalid UTF-8 as U+FFFD (as HF). Throws for an id the tokenizer does not know.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out var added))
            {
                FlushUtf8(bytes, text);
                if (!(skipSpecialTokens && added.Special)) text.Append(added.Content);
            }
            else if (_vocabById.TryGetValue(id, out var token))
            {
                foreach (char c in token)
                {
                    ByteLevelAlphabet.TryToByte(c, out byte b); // every vocab char was checked at load
                    bytes.Add(b);
                }
            }
            else
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id {id} is not in the tokenizer ({Source})");
            }
        }
        FlushUtf8(bytes, text);
        return text.ToString();
    }

    /// <summary>Id of a token in its vocabulary spelling (added token content, or byte-level form such as "Ġthe").</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_addedByContent.TryGetValue(token, out int id)) return id;
        return _vocab.TryGetValue(token, out id) ? id : null;
    }

    /// <summary>Vocabulary spelling of an id, or null when unknown.</summary>
    public string? IdToToken(int id)
    {
        if (_addedById.TryGetValue(id, out var added)) return added.Content;
        return _vocabById.TryGetValue(id, out var token) ? token : null;
    }

    public bool IsAddedToken(int id) => _addedById.ContainsKey(id);

    public bool IsSpecialToken(int id) => _addedById.TryGetValue(id, out var t) && t.Special;

    // Added tokens are matched on the raw text, all in one pass. HF matches normalized=true added tokens after
    // normalizing; that differs only for added tokens whose content NFC changes, which SID and chat tokens are not.
    private void EncodeInto(string text, List<int> ids)
    {
        int pos = 0;
        while (_matcher.TryFindNext(text, pos, out int index, out int length, out int tokenId))
        {
            if (index > pos) ids.AddRange(_bpe.EncodeToIds(text.AsSpan(pos, index - pos)));
            ids.Add(tokenId);
            pos = index + length;
        }
        if (pos < text.Length) ids.AddRange(pos == 0 ? _bpe.EncodeToIds(text) : _bpe.EncodeToIds(text.AsSpan(pos)));
    }

    private static void FlushUtf8(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count == 0) return;
        text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
        bytes.Clear();
    }

    private void ApplyConfig(byte[] json, string source)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(TokenizerJsonReader.WithoutBom(json).ToArray());
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(source, "$", $"is not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerFormatException(source, "$", "must be a JSON object");
            (EosToken, EosTokenId) = ReadSpecial(doc.RootElement, "eos_token", source);
            (PadToken, PadTokenId) = ReadSpecial(doc.RootElement, "pad_token", source);
        }
    }

    private (string?, int?) ReadSpecial(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var node) || node.ValueKind == JsonValueKind.Null) return (null, null);
        string? content = node.ValueKind switch
        {
            JsonValueKind.String => node.GetString(),
            JsonValueKind.Object when node.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new TokenizerFormatException(source, name, "must be a string, {\"content\": string} or null"),
        };
        if (string.IsNullOrEmpty(content)) throw new TokenizerFormatException(source, name, "is empty");
        int? id = TokenToId(content);
        if (id is null) throw new TokenizerFormatException(source, name, $"names \"{content}\", which is not a token of {Source}");
        return (content, id);
    }

    private static byte[] ReadLimited(string path, long maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        // Checked before reading so an oversized (or sparse) file costs nothing.
        if (stream.Length > maxBytes)
            throw new TokenizerFormatException(path, "$", $"is {stream.Length} bytes; the limit is {maxBytes}");
        var buffer = new byte[stream.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }
}
