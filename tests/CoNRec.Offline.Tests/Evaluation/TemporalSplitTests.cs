using CoNRec.Offline.Data;
using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public class TemporalSplitTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static DateTimeOffset Day(double d) => T0.AddDays(d);

    // Last = day 40, cutoff = day 12, windows start at 12, 19, 26, 33.
    internal static InteractionDataset Dataset()
    {
        var items = "abcdef".Select(c => new ItemFeatures(c.ToString(), c.ToString(), [], new Dictionary<string, double>()));
        return InteractionDataset.Create("t", items,
        [
            new("u1", "a", Day(1), FeedbackKind.Negative),
            new("u1", "b", Day(5), FeedbackKind.Click),
            new("u1", "c", Day(13), FeedbackKind.Negative),
            new("u1", "c", Day(14), FeedbackKind.Negative),
            new("u1", "d", Day(15), FeedbackKind.Purchase),
            new("u1", "e", Day(19), FeedbackKind.Negative),   // exactly at window 2's start: belongs to (12, 19]
            new("u1", "f", Day(40), FeedbackKind.Negative),
            new("u2", "a", Day(13), FeedbackKind.Negative),   // no past negative yet at day 12
            new("u2", "b", Day(20), FeedbackKind.Negative),
            new("u3", "a", Day(2), FeedbackKind.Click),
            new("u3", "b", Day(16), FeedbackKind.Rating, Rating: 2),   // neither negative nor positive
        ]);
    }

    [Fact]
    public void Cutoff_train_windows_and_cases_follow_the_protocol()
    {
        var split = TemporalSplit.Create(Dataset(), new SplitOptions());
        Assert.Equal(Day(12), split.Cutoff);
        Assert.Equal([Day(12), Day(19), Day(26), Day(33)], split.WindowStarts);
        Assert.Equal(["u1/a", "u3/a", "u1/b"], split.Train.Select(x => $"{x.UserId}/{x.ItemId}"));

        Assert.Equal(3, split.Cases.Count);
        var c0 = split.Cases[0];
        Assert.Equal(("u1", Day(12)), (c0.UserId, c0.At));
        Assert.Equal(["c", "e"], c0.FutureNegatives);
        Assert.Equal(["d"], c0.FuturePositives);
        Assert.Equal(1, c0.PastNegatives);
        Assert.Equal(["a", "b"], c0.History.Select(x => x.ItemId));

        var c1 = split.Cases[1];
        Assert.Equal(("u2", Day(19)), (c1.UserId, c1.At));
        Assert.Equal(["b"], c1.FutureNegatives);
        Assert.Empty(c1.FuturePositives);
        Assert.Equal(1, c1.PastNegatives);

        var c2 = split.Cases[2];
        Assert.Equal(("u1", Day(33)), (c2.UserId, c2.At));
        Assert.Equal(["f"], c2.FutureNegatives);
        Assert.Equal(4, c2.PastNegatives);   // a, c, c, e: events, not distinct items
        Assert.Equal(6, c2.History.Count);
    }

    [Fact]
    public void MinPastNegatives_zero_admits_cold_users()
    {
        var split = TemporalSplit.Create(Dataset(), new SplitOptions { MinPastNegatives = 0 });
        Assert.Equal(["u1@12", "u2@12", "u2@19", "u1@33"], split.Cases.Select(c => $"{c.UserId}@{(c.At - T0).TotalDays}"));
        Assert.Equal(0, split.Cases[1].PastNegatives);
    }

    [Fact]
    public void Item_negative_counts_include_events_at_the_time()
    {
        var split = TemporalSplit.Create(Dataset(), new SplitOptions());
        Assert.Equal(1, split.ItemNegativesBefore("a", Day(12.9)));
        Assert.Equal(2, split.ItemNegativesBefore("a", Day(13)));
        Assert.Equal(2, split.ItemNegativesBefore("c", Day(14)));
        Assert.Equal(0, split.ItemNegativesBefore("d", Day(40)));
        Assert.Equal(0, split.ItemNegativesBefore("nope", Day(40)));
    }

    [Fact]
    public void Bad_options_and_empty_datasets_are_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TemporalSplit.Create(Dataset(), new SplitOptions { WindowDays = 0 }));
        Assert.Contains("WindowDays", e.Message);
        var empty = InteractionDataset.Create("empty", [], []);
        var e2 = Assert.Throws<ArgumentException>(() => TemporalSplit.Create(empty, new SplitOptions()));
        Assert.Contains("'empty' has no interactions", e2.Message);
    }
}
