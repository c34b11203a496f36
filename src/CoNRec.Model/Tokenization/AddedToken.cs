namespace CoNRec.Model.Tokenization;

/// <summary>An entry of tokenizer.json's <c>added_tokens</c>: matched whole in raw text, never split by BPE.</summary>
public sealed record AddedToken(int Id, string Content, bool Special);
