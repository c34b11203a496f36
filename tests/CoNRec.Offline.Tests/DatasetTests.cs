using Xunit;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Tests;

public class DatasetTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Interactions_are_sorted_by_time_then_user_then_item()
    {
        var items = new[] { new ItemFeatures("a", "A", [], new Dictionary<string, double>()), new ItemFeatures("b", "B", [], new Dictionary<string, double>()) };
        var ds = InteractionDataset.Create("t", items,
        [
            new Interaction("u2", "a", T0.AddDays(1), FeedbackKind.Click),
            new Interaction("u2", "b", T0, FeedbackKind.Negative),
            new Interaction("u1", "b", T0, FeedbackKind.Negative),
        ]);
        Assert.Equal(["u1/b", "u2/b", "u2/a"], ds.Interactions.Select(x => $"{x.UserId}/{x.ItemId}"));
    }

    [Fact]
    public void Unknown_items_and_duplicate_items_are_rejected_by_name()
    {
        var items = new[] { new ItemFeatures("a", "A", [], new Dictionary<string, double>()) };
        var e = Assert.Throws<ArgumentException>(() => InteractionDataset.Create("t", items, [new Interaction("u", "zz", T0, FeedbackKind.Click)]));
        Assert.Contains("zz", e.Message);
        e = Assert.Throws<ArgumentException>(() => InteractionDataset.Create("t", [.. items, .. items], []));
        Assert.Contains("'a' appears twice", e.Message);
    }

    [Theory]
    [InlineData(FeedbackKind.Rating, 4.0, true)]
    [InlineData(FeedbackKind.Rating, 3.0, false)]
    [InlineData(FeedbackKind.Click, null, true)]
    [InlineData(FeedbackKind.Negative, 1.0, false)]
    public void Positive_feedback_follows_kind_and_rating(FeedbackKind kind, double? rating, bool positive) =>
        Assert.Equal(positive, new Interaction("u", "a", T0, kind, Rating: rating).IsPositive);
}
