namespace CoNRec.Offline.Data;

/// <summary>
/// Knobs of <see cref="SyntheticGenerator"/>. Defaults give about 1500 users, 1200 items and ~55K interactions with
/// ~10% negatives (the paper's datasets have sparse negatives); see the generator for the generative story.
/// </summary>
/// <summary>The generative story of <see cref="SyntheticGenerator"/>.</summary>
public enum SyntheticModel { Attributes, Categories }

public sealed record SyntheticSpec
{
    /// <summary>
    /// Which generative story: <see cref="SyntheticModel.Attributes"/> (default) makes users dislike attributes that cut
    /// across categories, as real users do; <see cref="SyntheticModel.Categories"/> is the earlier generator, where each
    /// user dislikes whole leaf categories (a category rule is then close to an oracle).
    /// </summary>
    public SyntheticModel Model { get; init; } = SyntheticModel.Attributes;

    public int Users { get; init; } = 1500;
    public int Items { get; init; } = 1200;
    public int Days { get; init; } = 60;
    public int Seed { get; init; } = 7;
    public DateTimeOffset Start { get; init; } = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Category tree: top categories × sub-categories each × leaves each ("c2/c2.1/c2.1.0").</summary>
    public int TopCategories { get; init; } = 6;
    public int SubCategories { get; init; } = 4;
    public int Leaves { get; init; } = 3;

    /// <summary>Mean exposures per user per day (over all days, active or not).</summary>
    public double ExposuresPerUserPerDay { get; init; } = 3;
    /// <summary>Chance a user opens the app on a given day; active days carry all exposures.</summary>
    public double ActiveDayProbability { get; init; } = 0.45;

    /// <summary>Each user dislikes this many areas (inclusive range); an area is a leaf or, with <see cref="SubCategoryNegativeProbability"/>, a whole sub-category.</summary>
    public int MinNegativeAreas { get; init; } = 1;
    public int MaxNegativeAreas { get; init; } = 3;
    public double SubCategoryNegativeProbability { get; init; } = 0.3;
    /// <summary>Each user likes this many sub-categories (inclusive range).</summary>
    public int MinPositiveAreas { get; init; } = 2;
    public int MaxPositiveAreas { get; init; } = 3;

    /// <summary>Zipf exponent of item popularity (weight of the r-th most popular item ∝ 1/r^s).</summary>
    public double PopularityExponent { get; init; } = 0.8;
    /// <summary>Share of exposures the recommender draws from the user's liked sub-categories (the rest: by popularity).</summary>
    public double InterestBias { get; init; } = 0.4;

    /// <summary>P(negative feedback | exposure in a disliked area).</summary>
    public double NegativeInAreaProbability { get; init; } = 0.7;
    /// <summary>P(negative feedback | exposure elsewhere): random dislikes that no latent area explains.</summary>
    public double NoiseNegativeProbability { get; init; } = 0.004;
    /// <summary>P(positive feedback | exposure in a liked sub-category), and elsewhere.</summary>
    public double PositiveInAreaProbability { get; init; } = 0.5;
    public double PositiveElsewhereProbability { get; init; } = 0.15;

    /// <summary>Words per leaf, per sub-category and per top category vocabulary, and shared words.</summary>
    public int WordsPerLeaf { get; init; } = 6;
    public int WordsPerSubCategory { get; init; } = 6;
    public int WordsPerTopCategory { get; init; } = 6;
    public int SharedWords { get; init; } = 40;

    /// <summary>Attributes model: item attributes (e.g. "bulky", "wired"), each item carries 0–2, independent of its category.</summary>
    public int Attributes { get; init; } = 12;
    /// <summary>Attributes model: P(an item has at least one attribute), and P(a second one | one).</summary>
    public double AttributeProbability { get; init; } = 0.6;
    public double SecondAttributeProbability { get; init; } = 0.3;
    /// <summary>Attributes model: broad style categories (like film genres); every item gets one besides its leaf.</summary>
    public int Styles { get; init; } = 8;
    /// <summary>Attributes model: how a user's aversion is drawn: an attribute anywhere, an attribute within one top category, else a leaf.</summary>
    public double GlobalAttributeAversionProbability { get; init; } = 0.45;
    public double ScopedAttributeAversionProbability { get; init; } = 0.35;
    /// <summary>Attributes model: attribute words per attribute (titles carry them, so text embeddings can see attributes).</summary>
    public int WordsPerAttribute { get; init; } = 4;

    internal void Validate()
    {
        static void Range(string name, double v, double lo, double hi)
        {
            if (!(v >= lo && v <= hi)) throw new ArgumentOutOfRangeException(name, v, $"{name} must be in [{lo}, {hi}]");
        }
        Range(nameof(Users), Users, 1, 10_000_000);
        Range(nameof(Items), Items, 1, 10_000_000);
        Range(nameof(Days), Days, 1, 3650);
        Range(nameof(TopCategories), TopCategories, 1, 1000);
        Range(nameof(SubCategories), SubCategories, 1, 1000);
        Range(nameof(Leaves), Leaves, 1, 1000);
        Range(nameof(ExposuresPerUserPerDay), ExposuresPerUserPerDay, 0, 1000);
        Range(nameof(ActiveDayProbability), ActiveDayProbability, 0.01, 1);
        Range(nameof(MinNegativeAreas), MinNegativeAreas, 0, 100);
        Range(nameof(MaxNegativeAreas), MaxNegativeAreas, MinNegativeAreas, 100);
        Range(nameof(MinPositiveAreas), MinPositiveAreas, 0, 100);
        Range(nameof(MaxPositiveAreas), MaxPositiveAreas, MinPositiveAreas, 100);
        Range(nameof(SubCategoryNegativeProbability), SubCategoryNegativeProbability, 0, 1);
        Range(nameof(PopularityExponent), PopularityExponent, 0, 10);
        Range(nameof(InterestBias), InterestBias, 0, 1);
        Range(nameof(NegativeInAreaProbability), NegativeInAreaProbability, 0, 1);
        Range(nameof(NoiseNegativeProbability), NoiseNegativeProbability, 0, 1);
        Range(nameof(PositiveInAreaProbability), PositiveInAreaProbability, 0, 1 - NoiseNegativeProbability);
        Range(nameof(PositiveElsewhereProbability), PositiveElsewhereProbability, 0, 1 - NoiseNegativeProbability);
        Range(nameof(WordsPerLeaf), WordsPerLeaf, 1, 1000);
        Range(nameof(WordsPerSubCategory), WordsPerSubCategory, 1, 1000);
        Range(nameof(WordsPerTopCategory), WordsPerTopCategory, 1, 1000);
        Range(nameof(SharedWords), SharedWords, 1, 10000);
        if (!Enum.IsDefined(Model)) throw new ArgumentOutOfRangeException(nameof(Model), Model, "Model must be Attributes or Categories");
        Range(nameof(Attributes), Attributes, 1, 1000);
        Range(nameof(AttributeProbability), AttributeProbability, 0, 1);
        Range(nameof(SecondAttributeProbability), SecondAttributeProbability, 0, 1);
        Range(nameof(Styles), Styles, 1, 1000);
        Range(nameof(GlobalAttributeAversionProbability), GlobalAttributeAversionProbability, 0, 1);
        Range(nameof(ScopedAttributeAversionProbability), ScopedAttributeAversionProbability, 0, 1 - GlobalAttributeAversionProbability);
        Range(nameof(WordsPerAttribute), WordsPerAttribute, 1, 1000);
        if (Users * ExposuresPerUserPerDay * Days > 2e8) throw new ArgumentOutOfRangeException(nameof(ExposuresPerUserPerDay), "Users × ExposuresPerUserPerDay × Days must be at most 2e8 exposures");
    }
}
