using System.Text;
using System.Text.Json;
using CoNRec.Model.Tokenization;
using Xunit;

namespace CoNRec.Model.Tests;

/// <summary>
/// Qwen3's tokenizer against Hugging Face's own encodings. Fixtures/qwen3_tokenizer_golden.json holds, per input,
/// the ids, tokens and decoded text of HF's Rust tokenizers (cross-checked with transformers.js);
/// Fixtures/qwen3_tokenizer_subset.json is Qwen3's tokenizer.json cut down to the vocabulary and merges those inputs
/// need (original ids, merge order, pre-tokenizer, normalizer), which HF was checked to encode identically.
/// Both are written by tools/tokenizer-golden/generate.mjs. The inputs stress what differs between UTF-16 and code
/// points: astral letters, digits and emoji, combining marks, whitespace runs, case-folded contractions.
/// </summary>
public sealed class HfTokenizerGoldenTests
{
    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    private static readonly Lazy<HfTokenizer> Qwen3 = new(() => HfTokenizer.Load(Path.Combine(FixtureDir, "qwen3_tokenizer_subset.json")));
    private static readonly Lazy<Golden> Fixture = new(LoadGolden);

    private sealed record GoldenCase(string Text, int[] Ids, string[] Tokens, string Decoded);

    private sealed record Golden(string Reference, IReadOnlyList<GoldenCase> Cases);

    private static Golden LoadGolden()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(FixtureDir, "qwen3_tokenizer_golden.json")));
        var root = doc.RootElement;
        var reference = root.GetProperty("reference");
        var cases = new List<GoldenCase>();
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            cases.Add(new GoldenCase(
                c.GetProperty("text").GetString()!,
                c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                c.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()!).ToArray(),
                c.GetProperty("decoded").GetString()!));
        }
        return new Golden($"{reference.GetProperty("package").GetString()} {reference.GetProperty("version").GetString()}", cases);
    }

    /// <summary>Every non-ASCII or control character as \uXXXX / \U00XXXXXX, so failures are readable.</summary>
    private static string Show(string s)
    {
        var sb = new StringBuilder("\"");
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsSurrogatePair(s, i))
            {
                sb.Append($"\\U{char.ConvertToUtf32(s[i], s[i + 1]):X8}");
                i++;
            }
            else if (s[i] is >= ' ' and <= '~')
            {
                sb.Append(s[i]);
            }
            else
            {
                sb.Append($"\\u{(int)s[i]:X4}");
            }
        }
        return sb.Append('"').ToString();
    }

    [Fact]
    public void Fixture_comes_from_hugging_face_rust_tokenizers_and_covers_the_hard_cases()
    {
        var golden = Fixture.Value;
        Assert.StartsWith("tokenizers ", golden.Reference);
        Assert.True(golden.Cases.Count >= 40, $"only {golden.Cases.Count} cases");
        Assert.Contains(golden.Cases, c => c.Text.Any(char.IsSurrogate));
        Assert.Contains(golden.Cases, c => c.Text.Contains('\u200D', StringComparison.Ordinal)); // ZWJ emoji sequence
        Assert.Contains(golden.Cases, c => c.Text.Contains("\r\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Encodes_every_case_like_hugging_face()
    {
        var tok = Qwen3.Value;
        var failures = new List<string>();
        foreach (var c in Fixture.Value.Cases)
        {
            var ids = tok.Encode(c.Text);
            if (!ids.SequenceEqual(c.Ids))
            {
                var tokens = ids.Select(id => tok.IdToToken(id) ?? "?");
                failures.Add($"{Show(c.Text)}\n  hf:   [{string.Join(", ", c.Ids)}] {string.Join(" ", c.Tokens.Select(Show))}" +
                             $"\n  ours: [{string.Join(", ", ids)}] {string.Join(" ", tokens.Select(Show))}");
            }
        }
        if (failures.Count > 0)
            Assert.Fail($"{failures.Count} of {Fixture.Value.Cases.Count} differ from {Fixture.Value.Reference}:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Token_spellings_match_hugging_face()
    {
        var tok = Qwen3.Value;
        foreach (var c in Fixture.Value.Cases)
            Assert.Equal(c.Tokens, c.Ids.Select(id => tok.IdToToken(id) ?? "(unknown id)").ToArray());
    }

    [Fact]
    public void Decode_of_encode_gives_the_nfc_text_as_hugging_face_does()
    {
        var tok = Qwen3.Value;
        var failures = new List<string>();
        foreach (var c in Fixture.Value.Cases)
        {
            string fromGolden = tok.Decode(c.Ids);
            string roundTrip = tok.Decode(tok.Encode(c.Text));
            if (fromGolden != c.Decoded || roundTrip != c.Decoded)
                failures.Add($"{Show(c.Text)}: hf {Show(c.Decoded)}, decode(hf ids) {Show(fromGolden)}, decode(encode) {Show(roundTrip)}");
        }
        if (failures.Count > 0) Assert.Fail(string.Join("\n", failures));
        // HF's decode is the NFC text: "e\u0301" comes back as "\u00E9".
        Assert.Equal("\u00E9", Fixture.Value.Cases.Single(c => c.Text == "e\u0301").Decoded);
    }

    [Fact]
    public void Astral_digits_after_a_space_split_on_code_points()
    {
        // The reported bug: .NET regex classes see " 𝟏" as ' ' + two surrogates (category Cs), so " ?[^\s\p{L}\p{N}]+"
        // took the space and the first surrogate together ("ĠðĿ", 81250). HF matches code points: " " then each
        // MATHEMATICAL BOLD DIGIT (\p{N}) alone.
        var ids = Qwen3.Value.Encode(" \U0001D7CF\U0001D7D0\U0001D7D1");
        Assert.Equal([220, 56252, 253, 237, 56252, 253, 238, 56252, 253, 239], ids);
        Assert.DoesNotContain(81250, ids);
    }

    [Fact]
    public void Long_s_counts_as_s_in_the_case_insensitive_contractions()
    {
        // HF's (?i:'s|...) folds U+017F to s, so "'ſa" is "'ſ" + "a"; .NET's IgnoreCase alone would not.
        Assert.Equal(Fixture.Value.Cases.Single(c => c.Text == "'\u017Fa").Ids, Qwen3.Value.Encode("'\u017Fa"));
    }
}
