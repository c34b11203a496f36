using CoNRec.Model.Tokenization;
using Xunit;

namespace CoNRec.Model.Tests;

/// <summary>Managed NFC against vectors computed with Python's unicodedata.normalize("NFC", s).</summary>
public sealed class NfcNormalizerTests
{
    // (input, expected NFC): hand-picked cases (reordering, blocking, Hangul, singletons, exclusions) then random mixes.
    private static readonly string[][] Vectors =
    [
        ["cafe\u0301", "caf\u00E9"],
        ["\u212B", "\u00C5"],
        ["\u1100\u1161\u11A8", "\uAC01"],
        ["a\u0328\u0301", "\u0105\u0301"],
        ["\u1E0B\u0323", "\u1E0D\u0307"],
        ["q\u0307\u0323", "q\u0323\u0307"],
        ["\u0958", "\u0915\u093C"],
        ["\u1100\u0300\u1161", "\u1100\u0300\u1161"],
        ["e\u0301\u0301", "\u00E9\u0301"],
        ["\uAC00\u11A8", "\uAC01"],
        ["\u0303\u0915\u05BC", "\u0303\u0915\u05BC"],
        ["o", "o"],
        ["\u1175\u0300\u00E9\u0B3EE\uD55C\u0328", "\u1175\u0300\u00E9\u0B3EE\uD55C\u0328"],
        ["U", "U"],
        ["\u093Co\u0345U", "\u093Co\u0345U"],
        ["\u1100E\u0340\u0B47\u0301", "\u1100\u00C8\u0B47\u0301"],
        ["\u05B7\u05B7", "\u05B7\u05B7"],
        ["E\u0B47\u0B3E\u0915E", "E\u0B4B\u0915E"],
        ["e\u11C2", "e\u11C2"],
        ["\u0302\u1F00\u093C\u0303\u1175\u0301\u0B47", "\u0302\u1F00\u093C\u0303\u1175\u0301\u0B47"],
        ["\u11C2\u0340\u4E2D", "\u11C2\u0300\u4E2D"],
        ["\u0300\u0B3E", "\u0300\u0B3E"],
        ["\u05B7\u0327\u00E9\u0300\u11C2", "\u05B7\u0327\u00E9\u0300\u11C2"],
        ["o\u0B47E\u05D0\u0328\uAC01", "o\u0B47E\u05D0\u0328\uAC01"],
        ["\u1175\u1100\U0001D16E\u212B\u11A8\u0B3E", "\u1175\u1100\U0001D16E\u00C5\u11A8\u0B3E"],
        ["\u00E9\u1F80\u0345\uFB2C", "\u00E9\u1F80\u0345\u05E9\u05BC\u05C1"],
        ["\u1E0A\U0001D16E", "\u1E0A\U0001D16E"],
        ["U\u0B47", "U\u0B47"],
        ["\u1112\uAC01\U0001F1E6", "\u1112\uAC01\U0001F1E6"],
        ["\u0307\u1161\u1F00", "\u0307\u1161\u1F00"],
        ["o\u0301\uD55C\u093C\u0308", "\u00F3\uD55C\u093C\u0308"],
        ["\u2126\u0303\uAC01\u093Ce o", "\u03A9\u0303\uAC01\u093Ce o"],
        ["\u11C2\u0B47\uFB2C\U0001F1E6\u0340\u212B\u2126", "\u11C2\u0B47\u05E9\u05BC\u05C1\U0001F1E6\u0300\u00C5\u03A9"],
        ["\u00C5\u0B57\uAC01\u0B3E\u0344\u11A8", "\u00C5\u0B57\uAC01\u0B3E\u0308\u0301\u11A8"],
        ["\u0341", "\u0301"],
        ["\u03C9", "\u03C9"],
        ["\u1E0A oE", "\u1E0A oE"],
        ["\u1E0A\u1F80\u05BC\u0B47\u4E2D\u0340", "\u1E0A\u1F80\u05BC\u0B47\u4E2D\u0300"],
        ["\u1F00\u1E0C\u0958\U0001F1E6", "\u1F00\u1E0C\u0915\u093C\U0001F1E6"],
        ["\u00C5a\u11A8\u00C5\u0308\u05D0", "\u00C5a\u11A8\u00C5\u0308\u05D0"],
        ["\uAC01", "\uAC01"],
        ["\u0328", "\u0328"],
        ["\u1F00\u0302\U0001D15E\u0345\u0915\u0915\U0002FA1D", "\u1F00\u0302\U0001D157\U0001D165\u0345\u0915\u0915\U0002A600"],
        ["U\u0308\u1161\u0915", "\u00DC\u1161\u0915"],
        ["\u03C9\U0001F1E6\u0302\u0340\u1100", "\u03C9\U0001F1E6\u0302\u0300\u1100"],
        ["\u11C2\u03C9\u1E0C\u093C\u00C5\u4E2D\U0001F1E6", "\u11C2\u03C9\u1E0C\u093C\u00C5\u4E2D\U0001F1E6"],
        ["\u031B\u0303U\u0323", "\u031B\u0303\u1EE4"],
        ["\u031B ", "\u031B "],
        ["A\uAC01", "A\uAC01"],
        ["\u0B3E\u0323\u03B1\u1F00A\u0303\u093C", "\u0B3E\u0323\u03B1\u1F00\u00C3\u093C"],
        ["\u00E9\u05D0\u0B47\u212B\u0302", "\u00E9\u05D0\u0B47\u00C5\u0302"],
        ["\uF900\uD55C\u05D0\u05BC\u4E2D\U0001D15E", "\u8C48\uD55C\u05D0\u05BC\u4E2D\U0001D157\U0001D165"],
        ["\u11A8", "\u11A8"],
        ["\U0001D16E\U0002FA1D\u4E2D\u0344\u11C2\u0915\u0915", "\U0001D16E\U0002A600\u4E2D\u0308\u0301\u11C2\u0915\u0915"],
        ["\u0915\u0300\uAC00\u05B7", "\u0915\u0300\uAC00\u05B7"],
        ["E\u0327o\u0328", "\u0228\u01EB"],
        ["\u0308\u0301\u2126\u0B57", "\u0308\u0301\u03A9\u0B57"],
        ["\u0300", "\u0300"],
        ["\u0B47", "\u0B47"],
        ["\u1175\u0300", "\u1175\u0300"],
        ["\u05D0ao", "\u05D0ao"],
        ["\u0328\u05D0\u0958\u0303\u05B7\u03B1\u00C5", "\u0328\u05D0\u0915\u093C\u05B7\u0303\u03B1\u00C5"],
        ["\u00E9\uAC00\u0301\u0301\uF900", "\u00E9\uAC00\u0301\u0301\u8C48"],
        ["\u11A8\uAC00\uAC00\u1F80", "\u11A8\uAC00\uAC00\u1F80"],
        ["\u0303", "\u0303"],
        ["\U0001D15E", "\U0001D157\U0001D165"],
        ["\U0001D15E\u03B1\uAC00", "\U0001D157\U0001D165\u03B1\uAC00"],
        ["\u1E0A\u0308\u1112a\u0328\u1112\u00E9", "\u1E0A\u0308\u1112\u0105\u1112\u00E9"],
        ["\u1E0A\u1175", "\u1E0A\u1175"],
        ["\U0001D165", "\U0001D165"],
    ];

    [Fact]
    public void Matches_python_unicodedata()
    {
        for (int i = 0; i < Vectors.Length; i++)
            Assert.True(Vectors[i][1] == NfcNormalizer.Instance.Normalize(Vectors[i][0]), $"vector {i}: {Escape(Vectors[i][0])}");
    }

    [Fact]
    public void Works_even_though_string_Normalize_is_a_no_op_in_invariant_mode()
    {
        Assert.Equal("caf\u00e9", NfcNormalizer.Instance.Normalize("cafe\u0301"));
        Assert.Equal("\uD55C\uAD6D\uC5B4", NfcNormalizer.Instance.Normalize("\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165"));
        const string ascii = "plain <a_1> text";
        Assert.Same(ascii, NfcNormalizer.Instance.Normalize(ascii));
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c < 0x80 ? c.ToString() : $"\\u{(int)c:X4}"));
}
