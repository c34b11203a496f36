using System.Text;
using Microsoft.ML.Tokenizers;

namespace CoNRec.Model.Tokenization;

/// <summary>Unicode NFC, the normalizer Qwen's tokenizer.json declares.</summary>
public sealed class NfcNormalizer : Normalizer
{
    public static NfcNormalizer Instance { get; } = new();

    public override string Normalize(string original)
    {
        ArgumentNullException.ThrowIfNull(original);
        // Most prompts are already NFC (ASCII templates and SID tokens): skip the copy.
        return original.IsNormalized(NormalizationForm.FormC) ? original : original.Normalize(NormalizationForm.FormC);
    }

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
