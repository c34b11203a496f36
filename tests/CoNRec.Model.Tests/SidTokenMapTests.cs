using CoNRec.Model.Tokenization;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class SidTokenMapTests
{
    private const int Levels = 3, Codes = 16;

    private static HfTokenizer Tokenizer(Func<int, int, bool>? omit = null) =>
        HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(TestTokenizerBuilder.Build(Levels, Codes, omitSid: omit)), "t.json");

    [Fact]
    public void Resolves_every_level_and_code()
    {
        var map = SidTokenMap.Create(Tokenizer(), Levels, Codes);
        for (int l = 0; l < Levels; l++)
        {
            var ids = map.LevelTokenIds(l);
            Assert.Equal(Codes, ids.Length);
            for (int c = 0; c < Codes; c++)
            {
                Assert.Equal(TestTokenizerBuilder.SidTokenId(l, c, Codes), map.TokenId(l, c));
                Assert.Equal(map.TokenId(l, c), ids[c]);
                Assert.True(map.TryDecode(l, ids[c], out int code));
                Assert.Equal(c, code);
            }
        }
        Assert.Equal(["<a_{code}>", "<b_{code}>", "<c_{code}>"], map.Formats);
    }

    [Fact]
    public void Render_concatenates_level_tokens()
    {
        var map = SidTokenMap.Create(Tokenizer(), Levels, Codes);
        Assert.Equal("<a_1><b_2><c_3>", map.Render([1u, 2u, 3u]));
        Assert.Equal("<a_1><b_2><c_3>", map.Render(map.Layout.Pack([1u, 2u, 3u])));
        Assert.Throws<ArgumentException>(() => map.Render([1u, 2u]));
        Assert.Throws<ArgumentException>(() => map.Render([1u, 2u, 16u]));
    }

    [Fact]
    public void TryDecode_rejects_another_levels_token()
    {
        var map = SidTokenMap.Create(Tokenizer(), Levels, Codes);
        Assert.False(map.TryDecode(0, map.TokenId(1, 5), out _));
        Assert.False(map.TryDecode(2, 42, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => map.TryDecode(3, 42, out _));
    }

    [Fact]
    public void Missing_tokens_are_named_with_level_code_and_count()
    {
        var tok = Tokenizer(omit: (l, c) => l == 1 && c >= 10);
        var e = Assert.Throws<TokenizerFormatException>(() => SidTokenMap.Create(tok, Levels, Codes));
        Assert.Contains("'<b_10>' (level 1, code 10)", e.Message);
        Assert.Contains("6 of 48 SID tokens", e.Message);
    }

    [Fact]
    public void More_codes_than_the_tokenizer_has_is_an_error()
    {
        var e = Assert.Throws<TokenizerFormatException>(() => SidTokenMap.Create(Tokenizer(), Levels, Codes + 4));
        Assert.Contains("'<a_16>' (level 0, code 16)", e.Message);
        Assert.Contains("12 of 60", e.Message);
    }

    [Fact]
    public void Custom_formats_and_bad_formats()
    {
        var tok = Tokenizer();
        // Swapping the letters still resolves: each format yields single tokens.
        var swapped = SidTokenMap.Create(tok, 2, Codes, ["<b_{code}>", "<a_{code}>"]);
        Assert.Equal(TestTokenizerBuilder.SidTokenId(1, 0, Codes), swapped.TokenId(0, 0));

        Assert.Throws<ArgumentException>(() => SidTokenMap.Create(tok, 2, Codes, ["<a_>", "<b_{code}>"]));
        Assert.Throws<ArgumentException>(() => SidTokenMap.Create(tok, 2, Codes, ["<a_{code}>"]));
        // Two levels spelled alike would make codes ambiguous.
        Assert.Throws<ArgumentException>(() => SidTokenMap.Create(tok, 2, Codes, ["<a_{code}>", "<a_{code}>"]));
        // Plain text splits into several tokens.
        var e = Assert.Throws<TokenizerFormatException>(() => SidTokenMap.Create(tok, 1, 2, ["item{code}"]));
        Assert.Contains("'item0' (level 0, code 0)", e.Message);
    }

    [Fact]
    public void Default_formats_continue_past_three_levels()
    {
        Assert.Equal(["<a_{code}>", "<b_{code}>", "<c_{code}>", "<d_{code}>", "<e_{code}>"], SidTokenMap.DefaultFormats(5));
    }
}
