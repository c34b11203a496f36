namespace CoNRec.Model.Tokenization;

/// <summary>
/// A tokenizer file (tokenizer.json, tokenizer_config.json) that is malformed or outside the supported
/// byte-level BPE family. The message names the file and the JSON field so an operator can fix the bundle.
/// </summary>
public sealed class TokenizerFormatException : FormatException
{
    /// <summary>Where the document came from (a path or a caller-given name).</summary>
    public string? Document { get; }

    /// <summary>The JSON path of the offending field, e.g. <c>model.merges[12]</c>.</summary>
    public string? Field { get; }

    public TokenizerFormatException() { }

    public TokenizerFormatException(string message) : base(message) { }

    public TokenizerFormatException(string message, Exception innerException) : base(message, innerException) { }

    public TokenizerFormatException(string document, string field, string problem, Exception? innerException = null)
        : base($"{document}: '{field}' {problem}", innerException)
    {
        Document = document;
        Field = field;
    }
}
