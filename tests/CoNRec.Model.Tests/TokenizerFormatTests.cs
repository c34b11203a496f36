using System.Text;
using System.Text.Json.Nodes;
using CoNRec.Model.Tokenization;
using CoNRec.Testing;
using Xunit;

namespace CoNRec.Model.Tests;

/// <summary>Malformed or unsupported tokenizer files are refused with a message naming the field.</summary>
public sealed class TokenizerFormatTests
{
    private static JsonObject Valid() => TestTokenizerBuilder.Build(2, 4);

    private static TokenizerFormatException Reject(JsonNode doc) =>
        Assert.Throws<TokenizerFormatException>(() => HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(doc), "t.json"));

    private static void AssertNames(TokenizerFormatException e, string field, string problem)
    {
        Assert.Equal(field, e.Field);
        Assert.StartsWith($"t.json: '{field}'", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Valid_document_loads()
    {
        var tok = HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(Valid()), "t.json");
        Assert.Equal(TestTokenizerBuilder.FirstSidId + 8, tok.VocabSize);
    }

    [Fact]
    public void Not_json()
    {
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.FromJson("not json at all"u8, "t.json"));
        AssertNames(e, "$", "not valid JSON");
        Assert.IsType<FormatException>(e, exactMatch: false);
    }

    [Fact]
    public void Truncated_json()
    {
        var bytes = TestTokenizerBuilder.ToBytes(Valid());
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.FromJson(bytes.AsSpan(0, bytes.Length / 2), "t.json"));
        AssertNames(e, "$", "not valid JSON");
    }

    [Fact]
    public void Root_not_an_object() => AssertNames(Reject(new JsonArray(1, 2)), "$", "must be a JSON object");

    [Fact]
    public void Missing_model()
    {
        var doc = Valid();
        doc.Remove("model");
        AssertNames(Reject(doc), "model", "is missing");
    }

    [Fact]
    public void Model_type_not_bpe()
    {
        var doc = Valid();
        doc["model"]!["type"] = "WordPiece";
        AssertNames(Reject(doc), "model.type", "\"WordPiece\"");
    }

    [Fact]
    public void Merge_referencing_unknown_token()
    {
        var doc = Valid();
        doc["model"]!["merges"]![3] = new JsonArray("e", "zz");
        AssertNames(Reject(doc), "model.merges[3]", "references \"zz\", which is not in model.vocab");
    }

    [Fact]
    public void Merge_result_missing_from_vocab()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!.AsObject().Remove("he");
        AssertNames(Reject(doc), "model.merges[0]", "produces \"he\"");
    }

    [Fact]
    public void Malformed_string_merge()
    {
        var doc = Valid();
        doc["model"]!["merges"]![0] = "h e r";
        AssertNames(Reject(doc), "model.merges[0]", "two tokens separated by one space");
    }

    [Fact]
    public void Duplicate_ids()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!["he"] = 101; // 'e'
        AssertNames(Reject(doc), "model.vocab[\"he\"]", "has id 101, which \"e\" already uses");
    }

    [Fact]
    public void Negative_id()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!["he"] = -5;
        AssertNames(Reject(doc), "model.vocab[\"he\"]", "non-negative");
    }

    [Fact]
    public void Id_too_large()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!["he"] = 1 << 24;
        AssertNames(Reject(doc), "model.vocab[\"he\"]", "below 2^24");
    }

    [Fact]
    public void Non_integer_id()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!["he"] = 2.5;
        AssertNames(Reject(doc), "model.vocab[\"he\"]", "integer");
    }

    [Fact]
    public void Added_token_taking_a_vocab_id()
    {
        var doc = Valid();
        doc["added_tokens"]![0]!["id"] = 5;
        AssertNames(Reject(doc), "added_tokens[0].id", "already model.vocab's id");
    }

    [Fact]
    public void Duplicate_added_token_id()
    {
        var doc = Valid();
        doc["added_tokens"]![1]!["id"] = doc["added_tokens"]![0]!["id"]!.GetValue<int>();
        AssertNames(Reject(doc), "added_tokens[1].id", "already used");
    }

    [Fact]
    public void Unsupported_added_token_flag()
    {
        var doc = Valid();
        doc["added_tokens"]![4]!["lstrip"] = true;
        AssertNames(Reject(doc), "added_tokens[4].lstrip", "not supported");
    }

    [Fact]
    public void Unsupported_normalizer()
    {
        var doc = Valid();
        doc["normalizer"] = new JsonObject { ["type"] = "NFKC" };
        AssertNames(Reject(doc), "normalizer.type", "\"NFKC\"");
    }

    [Fact]
    public void Nfc_inside_a_sequence_and_null_normalizer_are_accepted()
    {
        var doc = Valid();
        doc["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "NFC" }) };
        var nfc = HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(doc), "t.json");
        Assert.Equal(nfc.Encode("\u00e9"), nfc.Encode("e\u0301"));

        doc["normalizer"] = null;
        var raw = HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(doc), "t.json");
        Assert.NotEqual(raw.Encode("\u00e9"), raw.Encode("e\u0301"));
    }

    [Fact]
    public void Split_without_regex()
    {
        var doc = Valid();
        doc["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["String"] = " " };
        AssertNames(Reject(doc), "pre_tokenizer.pretokenizers[0].pattern", "only {\"Regex\": \"...\"} is supported");
    }

    [Fact]
    public void Regex_that_does_not_compile()
    {
        var doc = Valid();
        doc["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = "(unclosed";
        AssertNames(Reject(doc), "pre_tokenizer", "does not compile");
    }

    [Fact]
    public void Missing_byte_level_pre_tokenizer()
    {
        var doc = Valid();
        doc["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" };
        AssertNames(Reject(doc), "pre_tokenizer.type", "\"Whitespace\"");
    }

    [Fact]
    public void Unsupported_decoder_and_post_processor()
    {
        var doc = Valid();
        doc["decoder"] = new JsonObject { ["type"] = "Metaspace" };
        AssertNames(Reject(doc), "decoder.type", "\"Metaspace\"");

        doc = Valid();
        doc["post_processor"] = new JsonObject { ["type"] = "TemplateProcessing" };
        AssertNames(Reject(doc), "post_processor.type", "\"TemplateProcessing\"");
    }

    [Fact]
    public void Vocab_without_all_byte_symbols()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!.AsObject().Remove("!");
        AssertNames(Reject(doc), "model.vocab", "byte 0x21");
    }

    [Fact]
    public void Vocab_token_that_is_not_byte_level()
    {
        var doc = Valid();
        doc["model"]!["vocab"]!["caf\u00e9 "] = 9000;
        AssertNames(Reject(doc), "model.vocab[\"café \"]", "not a byte-level symbol");
    }

    [Fact]
    public void Bpe_dropout_is_refused()
    {
        var doc = Valid();
        doc["model"]!["dropout"] = 0.1;
        AssertNames(Reject(doc), "model.dropout", "not supported");
    }

    [Fact]
    public void File_over_the_limit_is_refused_before_reading()
    {
        using var dir = new TempDir();
        string path = TestTokenizerBuilder.Write(dir.Path, 1, 2);
        long size = new FileInfo(path).Length;
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.Load(path, maxBytes: size - 1));
        Assert.Contains("limit", e.Message);
        Assert.Contains(path, e.Message);

        // A sparse file just over the default 100 MB limit: refused from its length alone.
        string big = dir.File("big.json");
        using (var fs = File.Create(big)) fs.SetLength(HfTokenizer.DefaultMaxFileBytes + 1);
        e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.Load(big));
        Assert.Contains($"the limit is {HfTokenizer.DefaultMaxFileBytes}", e.Message);
    }

    [Fact]
    public void Config_naming_an_unknown_eos_token()
    {
        using var dir = new TempDir();
        TestTokenizerBuilder.Write(dir.Path, 1, 2);
        File.WriteAllText(dir.File("tokenizer_config.json"), "{\"eos_token\": {\"content\": \"</s>\"}}", Encoding.UTF8);
        var e = Assert.Throws<TokenizerFormatException>(() => HfTokenizer.LoadDirectory(dir.Path));
        Assert.Equal("eos_token", e.Field);
        Assert.Contains("</s>", e.Message);
    }
}
