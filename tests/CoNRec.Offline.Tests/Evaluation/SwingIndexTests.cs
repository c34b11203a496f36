using CoNRec.Offline.Evaluation;
using Xunit;

namespace CoNRec.Offline.Tests.Evaluation;

public class SwingIndexTests
{
    // u1: {a,b,c}  u2: {a,b}  u3: {a,b,c,d}  u4: {c,d}
    // U(a) = U(b) = {u1,u2,u3}, U(c) = {u1,u3,u4}, U(d) = {u3,u4}
    // α1 = α2 = 1, θ = 0.5 → w(u) = 1/√(|I(u)|+1): w1 = 1/2, w2 = 1/√3, w3 = 1/√5, w4 = 1/√3
    // overlap factor o(u,v) = |I(u)∩I(v)| / (|I(u)∩I(v)| + 1):
    //   o(1,2) = 2/3 ({a,b}), o(1,3) = 3/4 ({a,b,c}), o(2,3) = 2/3 ({a,b}), o(3,4) = 2/3 ({c,d})
    // Ordered pairs count twice.
    // Swi(a,b): C = {u1,u2,u3}: 2·(w1w2·2/3 + w1w3·3/4 + w2w3·2/3) / √3
    //         = 2·(0.1924501 + 0.1677051 + 0.1721326) / 1.7320508 = 0.6146334
    // Swi(a,c): C = {u1,u3}: 2·w1w3·3/4 / √3 = 0.3354102 / 1.7320508 = 0.1936492
    // Swi(a,d): C = {u3}: one co-user ≤ MinCoUsers = 1 → 0 (dropped)
    // Swi(c,d): C = {u3,u4}: 2·w3w4·2/3 / √|U(d)| = 0.3442652 / √2 = 0.2434322
    // Swi(c,a) = Swi(c,b): C = {u1,u3}: 0.3354102 / √3 = 0.1936492 (tie: a before b)
    // Swi(d,c): C = {u3,u4}: 0.3442652 / √|U(c)| = 0.3442652 / √3 = 0.1987616
    private static readonly (string, string)[] Example =
    [
        ("u1", "a"), ("u1", "b"), ("u1", "c"),
        ("u2", "a"), ("u2", "b"),
        ("u3", "a"), ("u3", "b"), ("u3", "c"), ("u3", "d"),
        ("u4", "c"), ("u4", "d"),
        ("u4", "d"), // a repeated negative counts once
    ];

    private static readonly SwingOptions Small = new() { MinCoUsers = 1 };

    private static void AssertNeighbours(IReadOnlyList<(string Item, double Score)> actual, params (string Item, double Score)[] expected)
    {
        Assert.Equal(expected.Select(e => e.Item), actual.Select(a => a.Item));
        for (int k = 0; k < expected.Length; k++) Assert.Equal(expected[k].Score, actual[k].Score, 6);
    }

    [Fact]
    public void Hand_computed_scores_sorted_desc_with_ties_by_item_id()
    {
        var swing = SwingIndex.Build(Example, Small);
        AssertNeighbours(swing.Neighbours("a"), ("b", 0.6146334), ("c", 0.1936492));
        AssertNeighbours(swing.Neighbours("c"), ("d", 0.2434322), ("a", 0.1936492), ("b", 0.1936492));
        AssertNeighbours(swing.Neighbours("d"), ("c", 0.1987616));
        Assert.Empty(swing.Neighbours("zz"));
    }

    [Fact]
    public void Input_order_does_not_change_the_result()
    {
        var a = SwingIndex.Build(Example, Small);
        var b = SwingIndex.Build(Example.Reverse(), Small);
        foreach (var item in new[] { "a", "b", "c", "d" }) Assert.Equal(a.Neighbours(item), b.Neighbours(item));
    }

    [Fact]
    public void TopK_truncates_the_neighbour_list()
    {
        var swing = SwingIndex.Build(Example, Small with { TopK = 1 });
        AssertNeighbours(swing.Neighbours("c"), ("d", 0.2434322));
    }

    [Fact]
    public void Expand_unions_top_neighbours_excluding_inputs()
    {
        var swing = SwingIndex.Build(Example, Small);
        Assert.Equal(["b"], swing.Expand(["a"], 1));
        // a → b, c(input); c → d, a(input)
        Assert.Equal(["b", "d"], swing.Expand(["a", "c"], 2));
        // d → c (its only neighbour); unknown zz adds nothing
        Assert.Equal(["c"], swing.Expand(["d", "zz"], 3));
        // c → d, a, b
        Assert.Equal(["d", "a", "b"], swing.Expand(["c"], 3));
        Assert.Empty(swing.Expand(["a"], 0));
    }

    [Theory]
    [InlineData(5, false)]
    [InlineData(6, true)]
    public void Default_threshold_needs_more_than_five_co_users(int coUsers, bool scored)
    {
        var negatives = Enumerable.Range(0, coUsers).SelectMany(u => new[] { ($"u{u}", "x"), ($"u{u}", "y") });
        var swing = SwingIndex.Build(negatives, new SwingOptions());
        Assert.Equal(scored, swing.Neighbours("x").Any(n => n.Item == "y"));
        if (scored)
        {
            // 6 users each with I = {x,y}: w = 1/√3, o = 2/3, 6·5 ordered pairs: 30 · (1/3) · (2/3) / √6
            Assert.Equal(30.0 / 3 * 2 / 3 / Math.Sqrt(6), swing.Neighbours("x")[0].Score, 9);
        }
    }

    [Fact]
    public void Bad_options_and_ids_are_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SwingIndex.Build(Example, new SwingOptions { Theta = -1 }));
        Assert.Contains("Theta", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => SwingIndex.Build([("", "a")], Small));
        Assert.Contains("empty user id", e2.Message);
    }
}
