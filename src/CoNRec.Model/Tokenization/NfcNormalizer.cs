using Microsoft.ML.Tokenizers;

namespace CoNRec.Model.Tokenization;

/// <summary>Unicode NFC, the normalizer Qwen's tokenizer.json declares (managed, independent of ICU).</summary>
public sealed class NfcNormalizer : Normalizer
{
    public static NfcNormalizer Instance { get; } = new();

    public override string Normalize(string original)
    {
        ArgumentNullException.ThrowIfNull(original);
        // Not string.Normalize: under InvariantGlobalization (this product's setting) it returns its input unchanged.
        return Nfc.Normalize(original);
    }

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}
