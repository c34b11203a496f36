using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// One evaluation case: a user at the start <paramref name="At"/> of a window that ends at <paramref name="End"/>.
/// </summary>
/// <param name="History">All of the user's interactions with timestamp ≤ At, in time order.</param>
/// <param name="FutureNegatives">Distinct items the user disliked in (At, End], first occurrence order (≥ 1).</param>
/// <param name="FuturePositives">Distinct items the user gave positive feedback in (At, End], first occurrence order.</param>
/// <param name="PastNegatives">Number of negative interactions in <paramref name="History"/> (events, not distinct items).</param>
public sealed record EvalCase(string UserId, DateTimeOffset At, IReadOnlyList<Interaction> History,
                              IReadOnlyList<string> FutureNegatives, IReadOnlyList<string> FuturePositives, int PastNegatives)
{
    /// <summary>The window's end (inclusive).</summary>
    public DateTimeOffset End { get; init; } = At + TimeSpan.FromDays(7);
}
