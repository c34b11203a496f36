using System.Text;
using CoNRec.Core;

namespace CoNRec.Model.Tokenization;

/// <summary>
/// Every (level, code) of a SID space mapped to its token id, e.g. level 1 code 7 → <c>&lt;b_7&gt;</c> → 151_900.
/// Construction proves each SID token encodes to exactly one id, so a rendered SID costs exactly L tokens
/// and constrained decoding can read codes straight off generated ids.
/// </summary>
public sealed class SidTokenMap
{
    /// <summary>The placeholder a per-level format must contain exactly once.</summary>
    public const string CodePlaceholder = "{code}";

    private readonly string[][] _tokens;      // [level][code] → token text
    private readonly int[][] _ids;            // [level][code] → token id
    private readonly Dictionary<int, int>[] _codeById; // [level] token id → code

    private SidTokenMap(SidLayout layout, IReadOnlyList<string> formats, string[][] tokens, int[][] ids)
    {
        Layout = layout;
        Formats = formats;
        _tokens = tokens;
        _ids = ids;
        _codeById = new Dictionary<int, int>[layout.Levels];
        for (int l = 0; l < layout.Levels; l++)
        {
            _codeById[l] = new Dictionary<int, int>(layout.CodesPerLevel);
            for (int c = 0; c < layout.CodesPerLevel; c++) _codeById[l][ids[l][c]] = c;
        }
    }

    public SidLayout Layout { get; }

    public int Levels => Layout.Levels;

    public int CodesPerLevel => Layout.CodesPerLevel;

    /// <summary>Per-level format strings, e.g. <c>&lt;a_{code}&gt;</c>.</summary>
    public IReadOnlyList<string> Formats { get; }

    /// <summary>LC-Rec's spelling: <c>&lt;a_{code}&gt;</c>, <c>&lt;b_{code}&gt;</c>, ... one letter per level.</summary>
    public static IReadOnlyList<string> DefaultFormats(int levels)
    {
        if (levels < 1 || levels > SidLayout.MaxLevels)
            throw new ArgumentOutOfRangeException(nameof(levels), levels, $"levels must be in [1, {SidLayout.MaxLevels}]");
        return Enumerable.Range(0, levels).Select(l => $"<{(char)('a' + l)}_{CodePlaceholder}>").ToArray();
    }

    /// <summary>
    /// Resolves every SID token against <paramref name="tokenizer"/>. Throws <see cref="TokenizerFormatException"/>
    /// naming the first token that is not a single token (with its level and code) and how many are missing.
    /// </summary>
    public static SidTokenMap Create(HfTokenizer tokenizer, int levels, int codesPerLevel, IReadOnlyList<string>? formats = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var layout = new SidLayout(levels, codesPerLevel);
        formats ??= DefaultFormats(levels);
        if (formats.Count != levels)
            throw new ArgumentException($"{formats.Count} SID token formats given for {levels} levels; need one per level", nameof(formats));
        for (int l = 0; l < levels; l++)
        {
            string f = formats[l] ?? throw new ArgumentException($"SID token format for level {l} is null", nameof(formats));
            int at = f.IndexOf(CodePlaceholder, StringComparison.Ordinal);
            if (at < 0 || f.IndexOf(CodePlaceholder, at + 1, StringComparison.Ordinal) >= 0)
                throw new ArgumentException($"SID token format for level {l} (\"{f}\") must contain {CodePlaceholder} exactly once", nameof(formats));
        }

        var tokens = new string[levels][];
        var ids = new int[levels][];
        var owner = new Dictionary<int, (int Level, int Code)>();
        int missing = 0;
        string? firstMissing = null;
        for (int l = 0; l < levels; l++)
        {
            tokens[l] = new string[codesPerLevel];
            ids[l] = new int[codesPerLevel];
            for (int c = 0; c < codesPerLevel; c++)
            {
                string token = formats[l].Replace(CodePlaceholder, c.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
                tokens[l][c] = token;
                var encoded = tokenizer.Encode(token);
                int? id = tokenizer.TokenToId(token);
                if (encoded.Count != 1 || id is null || encoded[0] != id)
                {
                    missing++;
                    firstMissing ??= $"'{token}' (level {l}, code {c}) encodes to {encoded.Count} tokens [{string.Join(", ", encoded.Take(8))}{(encoded.Count > 8 ? ", ..." : "")}]";
                    continue;
                }
                if (owner.TryGetValue(id.Value, out var other))
                    throw new ArgumentException($"SID token '{token}' (level {l}, code {c}) has the same id {id} as level {other.Level} code {other.Code}; the formats must give distinct tokens", nameof(formats));
                owner[id.Value] = (l, c);
                ids[l][c] = id.Value;
            }
        }
        if (missing > 0)
        {
            throw new TokenizerFormatException(tokenizer.Source, "added_tokens",
                $"lacks SID tokens: {firstMissing}, and {missing} of {levels * codesPerLevel} SID tokens in all are not single tokens " +
                $"(formats {string.Join(" ", formats)}, {codesPerLevel} codes per level); the tokenizer does not match this codebook");
        }
        return new SidTokenMap(layout, formats.ToArray(), tokens, ids);
    }

    public int TokenId(int level, int code)
    {
        CheckLevel(level);
        if ((uint)code >= (uint)CodesPerLevel)
            throw new ArgumentOutOfRangeException(nameof(code), code, $"code must be in [0, {CodesPerLevel})");
        return _ids[level][code];
    }

    /// <summary>The K token ids of one level, indexed by code (a copy: callers may keep or mask it).</summary>
    public int[] LevelTokenIds(int level)
    {
        CheckLevel(level);
        return (int[])_ids[level].Clone();
    }

    public string Token(int level, int code)
    {
        CheckLevel(level);
        if ((uint)code >= (uint)CodesPerLevel)
            throw new ArgumentOutOfRangeException(nameof(code), code, $"code must be in [0, {CodesPerLevel})");
        return _tokens[level][code];
    }

    /// <summary>The SID's tokens concatenated, e.g. <c>&lt;a_1&gt;&lt;b_2&gt;&lt;c_3&gt;</c>.</summary>
    public string Render(ReadOnlySpan<uint> codes)
    {
        var error = Layout.Validate(codes);
        if (error is not null) throw new ArgumentException(error, nameof(codes));
        var sb = new StringBuilder();
        for (int l = 0; l < codes.Length; l++) sb.Append(_tokens[l][codes[l]]);
        return sb.ToString();
    }

    /// <summary>Renders a SID packed with <see cref="Layout"/>.</summary>
    public string Render(ulong packed)
    {
        if (!Layout.IsValidPacked(packed)) throw new ArgumentException($"packed SID {packed} has a code >= {CodesPerLevel}", nameof(packed));
        Span<uint> codes = stackalloc uint[Levels];
        Layout.Unpack(packed, codes);
        return Render(codes);
    }

    /// <summary>The code whose level-<paramref name="level"/> token is <paramref name="tokenId"/>, if any.</summary>
    public bool TryDecode(int level, int tokenId, out int code)
    {
        CheckLevel(level);
        return _codeById[level].TryGetValue(tokenId, out code);
    }

    private void CheckLevel(int level)
    {
        if ((uint)level >= (uint)Levels)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"level must be in [0, {Levels})");
    }
}
