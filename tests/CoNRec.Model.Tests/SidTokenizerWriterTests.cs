using CoNRec.Model.Tokenization;
using CoNRec.Model.Training;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class SidTokenizerWriterTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // Merges = distinct byte-level prefixes (length >= 2) of the merged words, counted by hand:
    // The 2, " user" 4, user 3, " disliked" 8, " dislike" 0 (all its prefixes exist), " liked" 5, " Predict" 7,
    // " items" 5, " will" 4, " the" 3, assistant 8, "\n\n" 1 = 50.
    private const int Merges = 50, FirstSpecial = 256 + Merges, FirstSid = FirstSpecial + 3;

    [Fact]
    public void Written_tokenizer_loads_with_specials_then_level_major_sid_ids_and_the_returned_size()
    {
        int size = SidTokenizerWriter.Write(_dir.Path, levels: 3, codesPerLevel: 8);
        var tok = HfTokenizer.LoadDirectory(_dir.Path);
        Assert.Equal(FirstSid + 3 * 8, size);
        Assert.Equal(size, tok.VocabSize);
        Assert.Equal(FirstSpecial, tok.TokenToId("<|endoftext|>"));
        Assert.Equal(FirstSpecial + 2, tok.TokenToId("<|im_end|>"));
        Assert.Equal(FirstSpecial + 2, tok.EosTokenId);
        Assert.Equal(FirstSpecial, tok.PadTokenId);
        Assert.Equal(FirstSid, tok.TokenToId("<a_0>"));
        Assert.Equal(FirstSid + 8 + 5, tok.TokenToId("<b_5>"));
        Assert.Equal(FirstSid + 23, tok.TokenToId("<c_7>"));
        Assert.Equal((int)'A', tok.TokenToId("A")); // byte tokens: id = byte value
        // Token text is written verbatim, as HF writes it, not as \u003C...\u003E escapes.
        Assert.Contains("\"content\":\"<|im_end|>\"", File.ReadAllText(_dir.File("tokenizer.json")));
        Assert.Contains("\"eos_token\":\"<|im_end|>\"", File.ReadAllText(_dir.File("tokenizer_config.json")));
    }

    [Fact]
    public void Every_sid_token_is_one_special_id_and_never_splits_inside_text()
    {
        SidTokenizerWriter.Write(_dir.Path, 3, 8);
        var tok = HfTokenizer.LoadDirectory(_dir.Path);
        var map = SidTokenMap.Create(tok, 3, 8);
        var all = Enumerable.Range(0, 3).SelectMany(map.LevelTokenIds).ToList();
        Assert.Equal(24, all.Distinct().Count());
        Assert.All(all, id => Assert.True(tok.IsSpecialToken(id)));

        var ids = tok.Encode("<|im_start|><a_1><b_7><c_0><|im_end|>");
        Assert.Equal([FirstSpecial + 1, FirstSid + 1, FirstSid + 8 + 7, FirstSid + 16, FirstSpecial + 2], ids);
        // Glued to text, a SID token is still cut out whole: x, <a_3>, y.
        Assert.Equal([(int)'x', FirstSid + 3, (int)'y'], tok.Encode("x<a_3>y"));
    }

    [Theory]
    [InlineData("<|im_start|>user\nThe user disliked: <a_3><b_0><c_5>, <a_1><b_1><c_1>. Predict items the user will dislike.<|im_end|>\n")]
    [InlineData("café 東京 🙂 <a_9> tabs\tand  spaces")]
    [InlineData("")]
    public void Encode_then_decode_round_trips(string text)
    {
        SidTokenizerWriter.Write(_dir.Path, 3, 8);
        var tok = HfTokenizer.LoadDirectory(_dir.Path);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void Merges_shorten_the_prompt_words()
    {
        SidTokenizerWriter.Write(_dir.Path, 1, 2);
        var tok = HfTokenizer.LoadDirectory(_dir.Path);
        Assert.Single(tok.Encode(" disliked"));
        Assert.Equal(2, tok.Encode("The user").Count);          // "The", " user"
        Assert.Equal(2, tok.Encode(" disliker").Count);         // " dislike", "r"
        Assert.Equal(7, tok.Encode("Predict").Count);           // only " Predict" (with the space) was merged
    }

    [Fact]
    public void Custom_formats_are_used_and_bad_ones_name_the_level()
    {
        SidTokenizerWriter.Write(_dir.Path, 2, 3, ["<x{code}>", "<y{code}>"]);
        var tok = HfTokenizer.LoadDirectory(_dir.Path);
        Assert.Equal(FirstSid + 3 + 2, tok.TokenToId("<y2>"));
        var e = Assert.Throws<ArgumentException>(() => SidTokenizerWriter.Write(_dir.Path, 2, 3, ["<x{code}>", "<y>"]));
        Assert.Contains("level 1", e.Message);
        var dup = Assert.Throws<ArgumentException>(() => SidTokenizerWriter.Write(_dir.Path, 2, 3, ["<x{code}>", "<x{code}>"]));
        Assert.Contains("'<x0>' (level 1, code 0) appears twice", dup.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => SidTokenizerWriter.Write(_dir.Path, 9, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => SidTokenizerWriter.Write(_dir.Path, 2, 0));
    }
}
