using CoNRec.Model.Prompting;

namespace CoNRec.Model.Training;

/// <summary>
/// One next-items training example: the user's history as of <paramref name="At"/> and the items the model should
/// predict (the negatives of the following 7 days, already expanded with collaborative neighbours by the caller).
/// Each target becomes its own teacher-forced sequence with the same prompt.
/// </summary>
public sealed record SftExample(UserHistory History, DateTimeOffset At, IReadOnlyList<string> TargetItems);
