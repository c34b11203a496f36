namespace CoNRec.Offline.Evaluation;

/// <summary>A binary rule's single operating point (e.g. "block every category the user ever disliked").</summary>
public sealed record RulePoint(string Name, double DislikedRejectRate, double LikedRejectRate, double? Precision, int Disliked, int Liked);
