using CoNRec.Model.SasRec;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class SasRecTests
{
    [Fact]
    public void Learns_a_sequential_pattern_and_ranks_the_next_item_first()
    {
        // Item i is always followed by item i + 1 (mod 20): a pattern no popularity count can learn.
        const int items = 20;
        var rng = new Random(1);
        List<int[]> Users(int n) => [.. Enumerable.Range(0, n).Select(_ =>
        {
            int start = rng.Next(items), len = 3 + rng.Next(8);
            return Enumerable.Range(0, len).Select(j => ((start + j) % items) + 1).ToArray();
        })];
        var train = Users(400);
        var validation = Users(40);
        var options = new SasRecOptions { Dimension = 32, MaxLength = 12, MaxEpochs = 60, Patience = 5, BatchSize = 64, LearningRate = 5e-3, Dropout = 0.1 };
        using var result = SasRecTrainer.Train(items, train, validation, options);
        Assert.True(result.TrainLosses[^1] < result.TrainLosses[0] * 0.5, $"loss {result.TrainLosses[0]:F2} -> {result.TrainLosses[^1]:F2}");

        var histories = Users(50);
        var top = SasRecTrainer.Predict(result.Model, histories, 3, options.MaxLength);
        int hits = histories.Select((h, i) => top[i][0] == (h[^1] % items) + 1 ? 1 : 0).Sum();
        Assert.True(hits >= 45, $"next item ranked first for {hits} of 50 histories");
        Assert.All(top, t => Assert.DoesNotContain(0, t)); // never the padding item
    }

    [Fact]
    public void Bad_options_name_the_field()
    {
        var e = Assert.Throws<ArgumentException>(() => new SasRecOptions { Heads = 3, Dimension = 64 }.Validate());
        Assert.Contains("heads = 3", e.Message);
        Assert.Throws<ArgumentException>(() => SasRecTrainer.Train(5, [[1]], [], new SasRecOptions()));
    }
}
