namespace CoNRec.Offline.Embeddings;

/// <summary>
/// Sizes and weights of the five blocks of <see cref="ItemEmbedder"/>. Defaults: 24 + 64 + 8 + 16 + 16 = 128 dimensions.
/// Each block is L2-normalised before its weight is applied, so a weight is the block's share of the final vector
/// regardless of how many features fired; the whole vector is then L2-normalised again.
/// </summary>
public sealed record ItemEmbedderOptions
{
    /// <summary>Signed hash buckets for category path prefixes ("c2", "c2/c2.1", "c2/c2.1/c2.1.0").</summary>
    public int CategoryBuckets { get; init; } = 24;
    /// <summary>Signed hash buckets for title word unigrams, bigrams and character 3-grams.</summary>
    public int TextBuckets { get; init; } = 64;
    /// <summary>Slots for named numbers; each slot is 2 dimensions (an angle), names are hashed to slots.</summary>
    public int NumberSlots { get; init; } = 4;
    /// <summary>Collaborative factors from a truncated SVD of the training item × user matrix.</summary>
    public int Factors { get; init; } = 16;
    /// <summary>Co-dislike factors from a truncated SVD of the training negatives alone (0 leaves the block out).</summary>
    public int NegativeFactors { get; init; } = 16;

    public float CategoryWeight { get; init; } = 1.0f;
    public float TextWeight { get; init; } = 1.0f;
    /// <summary>Numbers (price, year) are weaker evidence of what an item is than its categories or words.</summary>
    public float NumberWeight { get; init; } = 0.5f;
    public float CollaborativeWeight { get; init; } = 1.0f;
    /// <summary>Twice the other blocks: on the synthetic validation cases 2–4 did best (0.21–0.22 of disliked at 5% liked vs 0.16 without the block); MovieLens was flat.</summary>
    public float NegativeCollaborativeWeight { get; init; } = 2.0f;

    /// <summary>Weights inside the text block: a whole word or a word pair says more than a character 3-gram.</summary>
    public float UnigramWeight { get; init; } = 1.0f;
    public float BigramWeight { get; init; } = 0.5f;
    public float CharGramWeight { get; init; } = 0.25f;

    /// <summary>Matrix entries: positive feedback, negative feedback, and exposures that are neither (e.g. a rating of 3).</summary>
    public double PositiveValue { get; init; } = 1;
    public double NegativeValue { get; init; } = -1;
    public double NeutralValue { get; init; } = 0.25;

    /// <summary>Randomized SVD: extra subspace columns and power iterations (accuracy), and the seed of the random start.</summary>
    public int Oversampling { get; init; } = 8;
    public int PowerIterations { get; init; } = 4;
    public int Seed { get; init; } = 17;

    /// <summary>Interactions at or after this instant are ignored, so test-period feedback cannot leak into the embeddings.</summary>
    public DateTimeOffset? TrainCutoff { get; init; }

    public int Dimension => CategoryBuckets + TextBuckets + 2 * NumberSlots + Factors + NegativeFactors;

    internal void Validate()
    {
        static void Check(string name, double v, double lo, double hi)
        {
            if (!(v >= lo && v <= hi)) throw new ArgumentOutOfRangeException(name, v, $"{name} must be in [{lo}, {hi}]");
        }
        Check(nameof(CategoryBuckets), CategoryBuckets, 0, 65536);
        Check(nameof(TextBuckets), TextBuckets, 0, 65536);
        Check(nameof(NumberSlots), NumberSlots, 0, 4096);
        Check(nameof(Factors), Factors, 0, 1024);
        Check(nameof(NegativeFactors), NegativeFactors, 0, 1024);
        Check(nameof(Dimension), Dimension, 1, 65536);
        foreach (var (name, w) in new[] { (nameof(CategoryWeight), CategoryWeight), (nameof(TextWeight), TextWeight), (nameof(NumberWeight), NumberWeight),
                     (nameof(CollaborativeWeight), CollaborativeWeight), (nameof(NegativeCollaborativeWeight), NegativeCollaborativeWeight), (nameof(UnigramWeight), UnigramWeight), (nameof(BigramWeight), BigramWeight), (nameof(CharGramWeight), CharGramWeight) })
            Check(name, w, 0, 1000);
        Check(nameof(PositiveValue), PositiveValue, -1000, 1000);
        Check(nameof(NegativeValue), NegativeValue, -1000, 1000);
        Check(nameof(NeutralValue), NeutralValue, -1000, 1000);
        Check(nameof(Oversampling), Oversampling, 0, 1024);
        Check(nameof(PowerIterations), PowerIterations, 0, 100);
    }
}
