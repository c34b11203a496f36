namespace CoNRec.Model.Prompting;

/// <summary>
/// A built prompt. When <see cref="Empty"/> is true there is nothing to ask the model (the job counts and skips
/// the user) and <see cref="Text"/> and <see cref="TokenIds"/> are empty.
/// </summary>
public sealed record PromptResult(
    string Text,
    IReadOnlyList<int> TokenIds,
    int NegativesUsed,
    int PositivesUsed,
    int SkippedUnknown,
    int DroppedForLength,
    DateTimeOffset? ReferenceTime,
    string? EmptyReason)
{
    public bool Empty => EmptyReason is not null;

    public int TokenCount => TokenIds.Count;
}
