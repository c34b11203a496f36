namespace CoNRec.Offline.Evaluation;

/// <summary>
/// Rejecting every future item whose score is strictly above <paramref name="Threshold"/> (as the filter does) rejects
/// these shares of future disliked and liked items. Precision = disliked share of the rejected; null when none is.
/// </summary>
public sealed record OperatingPoint(double Threshold, double DislikedRejectRate, double LikedRejectRate, double? Precision);
