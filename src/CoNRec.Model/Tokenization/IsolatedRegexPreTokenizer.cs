using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace CoNRec.Model.Tokenization;

/// <summary>
/// HF <c>Split { behavior: "Isolated", invert: false }</c>: every regex match is a piece and so is every gap
/// between matches. ML.Tokenizers' RegexPreTokenizer yields only the matches, which would silently drop text
/// for patterns that do not cover every character (Qwen's does, a custom one may not).
/// </summary>
internal sealed class IsolatedRegexPreTokenizer : PreTokenizer
{
    private readonly Regex _regex;

    public IsolatedRegexPreTokenizer(Regex regex) => _regex = regex;

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        return Split(text);
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return [];
        return Split(text.ToString());
    }

    private List<(int Offset, int Length)> Split(string text)
    {
        var pieces = new List<(int, int)>();
        int pos = 0;
        for (Match m = _regex.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue; // an empty match splits nothing
            if (m.Index > pos) pieces.Add((pos, m.Index - pos));
            pieces.Add((m.Index, m.Length));
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) pieces.Add((pos, text.Length - pos));
        return pieces;
    }
}
