using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// One evaluation case: a user at the start <paramref name="At"/> of a test window.
/// </summary>
/// <param name="History">All of the user's interactions with timestamp ≤ At, in time order.</param>
/// <param name="FutureNegatives">Distinct items the user disliked in (At, At + window], first occurrence order (≥ 1).</param>
/// <param name="FuturePositives">Distinct items the user gave positive feedback in (At, At + window], first occurrence order.</param>
/// <param name="PastNegatives">Number of negative interactions in <paramref name="History"/> (events, not distinct items).</param>
public sealed record EvalCase(string UserId, DateTimeOffset At, IReadOnlyList<Interaction> History,
                              IReadOnlyList<string> FutureNegatives, IReadOnlyList<string> FuturePositives, int PastNegatives);
