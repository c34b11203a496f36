using System.Text.Json.Nodes;
using CoNRec.Model.Prompting;
using CoNRec.Model.Tokenization;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class HfTokenizerTests : IDisposable
{
    private const int Levels = 3, Codes = 16;
    private readonly TempDir _dir = new();
    private readonly HfTokenizer _tok;

    public HfTokenizerTests()
    {
        TestTokenizerBuilder.Write(_dir.Path, Levels, Codes);
        _tok = HfTokenizer.LoadDirectory(_dir.Path);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Merge_ranks_are_applied_in_order_hand_computed_ids()
    {
        // "the" → t + he (no "t he" merge); " user" → Ġuser (e r, u s, us er, Ġ user);
        // " disliked" → Ġdisliked; " her" → Ġ + he + r because "h e" (rank 0) beats "e r" (rank 3).
        Assert.Equal([116, 256, 262, 271, 32, 256, 114], _tok.Encode("the user disliked her"));
        Assert.Equal([258], _tok.Encode(" the"));
    }

    [Fact]
    public void Legacy_string_merges_encode_like_array_merges()
    {
        var legacy = HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(TestTokenizerBuilder.Build(Levels, Codes, mergesAsArrays: false)), "legacy");
        const string text = "The user disliked items. Predict items the user will dislike.";
        Assert.Equal(_tok.Encode(text), legacy.Encode(text));
    }

    [Fact]
    public void Template_text_round_trips()
    {
        foreach (var text in new[] { PromptTemplate.DefaultText, PromptTemplate.DefaultPositivesClause, "assistant\n\n  x\t y \r\n" })
        {
            var ids = _tok.Encode(text);
            Assert.Equal(text, _tok.Decode(ids));
        }
        var chat = _tok.Encode("<|im_start|>user\n");
        Assert.Equal(TestTokenizerBuilder.FirstSpecialId + 1, chat[0]);
    }

    [Fact]
    public void Every_sid_token_is_one_id_and_round_trips()
    {
        var all = new List<string>();
        for (int l = 0; l < Levels; l++)
        {
            for (int c = 0; c < Codes; c++)
            {
                string token = TestTokenizerBuilder.SidToken(l, c);
                all.Add(token);
                var ids = _tok.Encode(token);
                Assert.Equal([TestTokenizerBuilder.SidTokenId(l, c, Codes)], ids);
                Assert.Equal(token, _tok.Decode(ids));
                Assert.Equal(ids[0], _tok.TokenToId(token));
                Assert.Equal(token, _tok.IdToToken(ids[0]));
            }
        }
        string joined = "The user disliked: " + string.Join(", ", all) + ".";
        Assert.Equal(joined, _tok.Decode(_tok.Encode(joined)));
    }

    [Fact]
    public void Rendered_sid_encodes_to_exactly_its_level_tokens()
    {
        Assert.Equal(
            [TestTokenizerBuilder.SidTokenId(0, 1, Codes), TestTokenizerBuilder.SidTokenId(1, 2, Codes), TestTokenizerBuilder.SidTokenId(2, 3, Codes)],
            _tok.Encode("<a_1><b_2><c_3>"));
        // Longest match: "<a_12>" is one token, not "<a_1" + "2>".
        Assert.Equal([TestTokenizerBuilder.SidTokenId(0, 12, Codes)], _tok.Encode("<a_12>"));
    }

    [Fact]
    public void Nfc_makes_decomposed_and_composed_text_encode_alike()
    {
        var composed = _tok.Encode("caf\u00e9 likes");
        var decomposed = _tok.Encode("cafe\u0301 likes");
        Assert.Equal(composed, decomposed);
        Assert.Contains(0xC3, composed); // é is two UTF-8 bytes → two byte tokens
        Assert.Equal("caf\u00e9 likes", _tok.Decode(decomposed));
    }

    [Fact]
    public void Digits_split_one_per_token_as_in_qwen()
    {
        Assert.NotNull(_tok.TokenToId("12")); // the merge exists ...
        Assert.Equal([49, 50], _tok.Encode("12")); // ... but \p{N} pre-tokenizes each digit alone
        Assert.Equal([50, 48, 50, 52], _tok.Encode("2024"));
    }

    [Fact]
    public void Gpt2_style_byte_level_regex_groups_digits()
    {
        var doc = TestTokenizerBuilder.Build(Levels, Codes);
        doc["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };
        var gpt2 = HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(doc), "gpt2");
        Assert.Equal([_tok.TokenToId("12")!.Value], gpt2.Encode("12"));
    }

    [Fact]
    public void Whitespace_runs_keep_the_last_space_for_the_next_word()
    {
        // "a   b" → "a", "  ", " b" (\s+(?!\S)), so the merges ĠĠ and Ġb both apply.
        Assert.Equal([97, _tok.TokenToId("\u0120\u0120")!.Value, _tok.TokenToId("\u0120b")!.Value], _tok.Encode("a   b"));
        foreach (var text in new[] { " ", "\n", "a\n\n\nb", "  lead and trail  ", "tab\there", "\r\n" })
            Assert.Equal(text, _tok.Decode(_tok.Encode(text)));
    }

    [Fact]
    public void Unicode_beyond_latin_round_trips()
    {
        const string text = "用户不喜欢 🙂 ça — ok";
        Assert.Equal(text, _tok.Decode(_tok.Encode(text)));
    }

    [Fact]
    public void Config_gives_eos_and_pad_and_vocab_size_counts_added_tokens()
    {
        Assert.Equal(TestTokenizerBuilder.FirstSpecialId + 2, _tok.EosTokenId);
        Assert.Equal("<|im_end|>", _tok.EosToken);
        Assert.Equal(TestTokenizerBuilder.FirstSpecialId, _tok.PadTokenId);
        Assert.Equal(TestTokenizerBuilder.FirstSidId + Levels * Codes, _tok.VocabSize);
        Assert.True(_tok.IsSpecialToken(TestTokenizerBuilder.FirstSpecialId));
        Assert.False(_tok.IsSpecialToken(TestTokenizerBuilder.FirstSidId));

        var bare = HfTokenizer.Load(Path.Combine(_dir.Path, "tokenizer.json"));
        Assert.Null(bare.EosTokenId);
        Assert.Null(bare.PadTokenId);
    }

    [Fact]
    public void Token_lookup_uses_vocabulary_spelling()
    {
        Assert.Equal(258, _tok.TokenToId("\u0120the"));
        Assert.Equal("\u0120the", _tok.IdToToken(258));
        Assert.Null(_tok.TokenToId("nope"));
        Assert.Null(_tok.IdToToken(_tok.VocabSize));
    }

    [Fact]
    public void Decode_can_skip_special_tokens_but_keeps_sid_tokens()
    {
        var ids = _tok.Encode("<|im_start|>assistant\n<a_1><b_2><c_3><|im_end|>");
        Assert.Equal("assistant\n<a_1><b_2><c_3>", _tok.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Decode_rejects_an_unknown_id()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _tok.Decode([1, _tok.VocabSize + 5]));
        Assert.Contains($"{_tok.VocabSize + 5}", e.Message);
    }
}
