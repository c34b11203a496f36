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
        var split = TemporalSplit.Create(Dataset(), new SplitOptions { ValidationDays = 0 });
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
        var split = TemporalSplit.Create(Dataset(), new SplitOptions { MinPastNegatives = 0, ValidationDays = 0 });
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
    public void Global_validation_is_the_period_before_the_cutoff_and_training_stops_where_it_starts()
    {
        // Cutoff day 12; 11.5 validation days start the validation period at day 0.5.
        var split = TemporalSplit.Create(Dataset(), new SplitOptions { ValidationDays = 11.5, MinPastNegatives = 0 });
        Assert.Equal(Day(0.5), Day(12) - TimeSpan.FromDays(11.5));
        // Train: only interactions at or before day 0.5 → none.
        Assert.Empty(split.Train);
        // Validation windows start at 0.5 and 7.5 (the second is cut at the cutoff, day 12): u1's a@1 is in the first.
        var v = Assert.Single(split.ValidationCases, c => c.UserId == "u1");
        Assert.Equal((Day(0.5), Day(7.5)), (v.At, v.End));
        Assert.Equal(["a"], v.FutureNegatives);
        Assert.Equal(4, split.Cases.Count); // test cases are those of MinPastNegatives = 0 without validation (see above)
    }

    /// <summary>u1: negatives at days 1, 3, 20, 30; u2: negatives at days 2, 40 (one window before); u3: one negative; u4: likes only.</summary>
    private static InteractionDataset PerUserData() => InteractionDataset.Create("pu",
        "abcdefgh".Select(c => new ItemFeatures(c.ToString(), c.ToString(), [], new Dictionary<string, double>())),
        [
            new("u1", "a", Day(1), FeedbackKind.Negative), new("u1", "b", Day(3), FeedbackKind.Negative),
            new("u1", "g", Day(10), FeedbackKind.Click),
            new("u1", "c", Day(20), FeedbackKind.Negative), new("u1", "h", Day(22), FeedbackKind.Click),
            new("u1", "d", Day(30), FeedbackKind.Negative), new("u1", "e", Day(31), FeedbackKind.Click), new("u1", "f", Day(40), FeedbackKind.Negative),
            new("u2", "a", Day(2), FeedbackKind.Negative), new("u2", "b", Day(40), FeedbackKind.Negative), new("u2", "c", Day(41), FeedbackKind.Click),
            new("u3", "a", Day(5), FeedbackKind.Negative), new("u3", "e", Day(6), FeedbackKind.Click),
            new("u4", "h", Day(50), FeedbackKind.Click),
        ]);

    [Fact]
    public void Per_user_test_window_starts_just_before_each_users_last_negative()
    {
        var split = TemporalSplit.Create(PerUserData(), new SplitOptions { Protocol = SplitProtocol.PerUser });
        // u1's last negative is f@40: the window (40 − tick, 47 − tick] holds f only; history everything before.
        var u1 = split.Cases.Single(c => c.UserId == "u1");
        Assert.Equal(Day(40) - TimeSpan.FromTicks(1), u1.At);
        Assert.Equal(["f"], u1.FutureNegatives);
        Assert.Equal(4, u1.PastNegatives);
        var u2 = split.Cases.Single(c => c.UserId == "u2");
        Assert.Equal(["b"], u2.FutureNegatives);
        Assert.Equal(["c"], u2.FuturePositives);
        // u3 has no earlier negative, u4 none at all: not test users.
        Assert.Equal(["u1", "u2"], split.Cases.Select(c => c.UserId).Order());
        // Validation: the window before — u1 from just before d@30 (to 37, before the test start at 40); u2 from a@2, cut at 9.
        var v1 = split.ValidationCases.Single(c => c.UserId == "u1");
        Assert.Equal((Day(30) - TimeSpan.FromTicks(1), Day(37) - TimeSpan.FromTicks(1)), (v1.At, v1.End));
        Assert.Equal(["d"], v1.FutureNegatives);
        Assert.Equal(["e"], v1.FuturePositives);
        Assert.DoesNotContain(split.ValidationCases, c => c.UserId == "u2"); // u2 has no negative before a@2
    }

    [Fact]
    public void No_interaction_of_a_validation_or_test_window_or_after_it_reaches_training()
    {
        foreach (var options in new[] { new SplitOptions { Protocol = SplitProtocol.PerUser }, new SplitOptions(), new SplitOptions { TestDays = 20, ValidationDays = 10 } })
        {
            var ds = PerUserData();
            var split = TemporalSplit.Create(ds, options);
            foreach (var c in split.Cases.Concat(split.ValidationCases))
            {
                // Nothing of this user after the case's start (its window, and anything later) is training data.
                Assert.DoesNotContain(split.Train, x => x.UserId == c.UserId && x.Timestamp > c.At);
                foreach (var item in c.FutureNegatives.Concat(c.FuturePositives))
                    Assert.DoesNotContain(split.Train, x => x.UserId == c.UserId && x.ItemId == item && x.Timestamp > c.At);
            }
            // Users without a case keep everything (per-user): u3 and u4's interactions are all in Train.
            if (options.Protocol == SplitProtocol.PerUser)
                Assert.Equal(ds.Interactions.Count(x => x.UserId is "u3" or "u4"), split.Train.Count(x => x.UserId is "u3" or "u4"));
        }
    }

    [Fact]
    public void Serving_history_ends_at_each_users_test_start()
    {
        var split = TemporalSplit.Create(PerUserData(), new SplitOptions { Protocol = SplitProtocol.PerUser });
        var history = split.ServingHistory().ToList();
        Assert.DoesNotContain(history, x => x.UserId == "u1" && x.Timestamp >= Day(40));
        Assert.Contains(history, x => x.UserId == "u1" && x.ItemId == "e");
        Assert.Contains(history, x => x.UserId == "u4"); // no test case: all of it
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
