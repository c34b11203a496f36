using CoNRec.Batch.Experiment;
using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Batch.Tests;

public class TrainingDataTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static Interaction Neg(string u, string i, double day) => new(u, i, T0.AddDays(day), FeedbackKind.Negative);

    private static Interaction Click(string u, string i, double day) => new(u, i, T0.AddDays(day), FeedbackKind.Click);

    [Fact]
    public void Targets_are_the_distinct_negatives_of_the_next_seven_days_after_each_anchor()
    {
        var train = new[]
        {
            Neg("u1", "a", 0), Click("u1", "x", 0.1),    // anchor at the negative (day 0)
            Neg("u1", "b", 2), Neg("u1", "b", 3),        // b twice: one target
            Neg("u1", "c", 6.95),                         // inside (0, 7]
            Neg("u1", "d", 7.5),                          // outside day 0's window, inside the later ones
        };
        var none = SwingIndex.Build([], new SwingOptions());
        var data = TrainingData.Build(train, none, new TrainingDataOptions { ValidationEvery = 0, SwingPerTarget = 0 });
        var first = data.Train[0];
        Assert.Equal(T0, first.At);
        Assert.Equal(["b", "c"], first.TargetItems);
        Assert.Equal(["a"], first.History.Negatives.Select(e => e.ItemId));   // history stops at the anchor: the click comes later
        Assert.Empty(first.History.Positives);
        // Anchors: each negative with a negative after it within 7 days (d, the last, has none).
        Assert.Equal([T0, T0.AddDays(2), T0.AddDays(3), T0.AddDays(6.95)], data.Train.Select(e => e.At));
        Assert.Equal(["b", "c", "d"], data.Train[1].TargetItems);
        Assert.Equal(["x"], data.Train[1].History.Positives.Select(e => e.ItemId));
        Assert.Equal(["d"], data.Train[3].TargetItems);
    }

    [Fact]
    public void Swing_neighbours_expand_the_targets_and_held_out_users_only_validate()
    {
        // Six users co-dislike p and q (> 5 co-users), so q is p's Swing neighbour.
        var negatives = Enumerable.Range(0, 6).SelectMany(k => new[] { Neg($"v{k}", "p", 0), Neg($"v{k}", "q", 0) });
        var swing = SwingIndex.Build(negatives.Select(x => (x.UserId, x.ItemId)), new SwingOptions());
        Assert.Contains(swing.Neighbours("p"), n => n.Item == "q");

        var train = new[] { Neg("u1", "a", 0), Neg("u1", "p", 1) };
        var data = TrainingData.Build(train, swing, new TrainingDataOptions { ValidationEvery = 0 });
        Assert.Equal(["p", "q"], Assert.Single(data.Train).TargetItems);
        Assert.Equal(1, data.SwingAdded);

        var held = TrainingData.Build(train, swing, new TrainingDataOptions { ValidationEvery = 1 });
        Assert.Empty(held.Train);
        Assert.Single(held.Validation);
        Assert.Empty(held.Alignment);
    }

    [Fact]
    public void Alignment_pairs_a_disliked_item_with_three_of_the_same_users_positives()
    {
        var train = new[] { Neg("u1", "a", 0), Neg("u1", "b", 1), Click("u1", "x", 0), Click("u1", "y", 0), Click("u1", "z", 0) };
        var data = TrainingData.Build(train, SwingIndex.Build([], new SwingOptions()), new TrainingDataOptions { ValidationEvery = 0, AlignmentPerUser = 2 });
        Assert.Equal(2, data.Alignment.Count);
        Assert.All(data.Alignment, a =>
        {
            Assert.Contains(a.NegativeItem, new[] { "a", "b" });
            Assert.Equal(["x", "y", "z"], a.PositiveItems.Order());
        });
    }
}
