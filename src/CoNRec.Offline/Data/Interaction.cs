namespace CoNRec.Offline.Data;

/// <summary>What a user did with an item. Ratings carry their value; MovieLens maps ≤ 2 to <see cref="Negative"/>.</summary>
public enum FeedbackKind { Negative, Click, Favorite, Purchase, Rating }

/// <summary>
/// One feedback event in the generic interaction format. Every interaction is also an exposure (the user saw the item),
/// which evaluation uses for Candidate Acc distractors.
/// </summary>
public sealed record Interaction(string UserId, string ItemId, DateTimeOffset Timestamp, FeedbackKind Kind, string? Reason = null, double? Rating = null)
{
    /// <summary>A rating at or above this counts as positive feedback (MovieLens: 4 and 5).</summary>
    public const double PositiveRating = 4;

    public bool IsNegative => Kind == FeedbackKind.Negative;

    public bool IsPositive => Kind is FeedbackKind.Click or FeedbackKind.Favorite or FeedbackKind.Purchase
                              || (Kind == FeedbackKind.Rating && Rating >= PositiveRating);
}

/// <summary>Item side information: title or text, categories (hierarchical paths use '/'), named numbers.</summary>
public sealed record ItemFeatures(string ItemId, string Title, IReadOnlyList<string> Categories, IReadOnlyDictionary<string, double> Numbers);
