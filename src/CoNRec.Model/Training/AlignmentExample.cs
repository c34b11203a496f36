namespace CoNRec.Model.Training;

/// <summary>
/// The paper's item-level alignment task: a disliked item and (usually three) items the same user bought. The
/// prompt lists all candidates' SIDs in a shuffled order; the answer is the disliked item's SID.
/// </summary>
public sealed record AlignmentExample(string NegativeItem, IReadOnlyList<string> PositiveItems);
