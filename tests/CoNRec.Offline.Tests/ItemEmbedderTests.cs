using CoNRec.Offline.Data;
using CoNRec.Offline.Embeddings;
using Xunit;

namespace CoNRec.Offline.Tests;

public class ItemEmbedderTests
{
    private static readonly DateTimeOffset T0 = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly SyntheticSpec Small = new() { Users = 200, Items = 300, Days = 20 };

    private static ItemFeatures Item(string id, string title = "", string[]? categories = null, Dictionary<string, double>? numbers = null) =>
        new(id, title, categories ?? [], numbers ?? []);

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    private static ItemEmbedderOptions Only(string block) => new()
    {
        CategoryWeight = block == "cat" ? 1 : 0,
        TextWeight = block == "text" ? 1 : 0,
        NumberWeight = block == "num" ? 1 : 0,
        CollaborativeWeight = block == "cf" ? 1 : 0,
        NegativeCollaborativeWeight = block == "neg" ? 1 : 0,
    };

    [Fact]
    public void Default_vectors_are_unit_length_with_the_documented_dimension()
    {
        var ds = SyntheticGenerator.Generate(Small);
        var e = ItemEmbedder.Build(ds.Items, ds.Interactions);
        Assert.Equal(128, e.Dimension);
        Assert.Equal(ds.Items.Select(i => i.ItemId), e.ItemIds);
        Assert.Equal(300 * 128, e.Matrix.Length);
        for (int i = 0; i < e.Count; i++)
        {
            double n = 0;
            foreach (var v in e.Row(i)) n += v * v;
            Assert.Equal(1, n, 4);
        }
        Assert.True(e.TryGet("i7", out var row));
        Assert.True(row.SequenceEqual(e.Row(7)));
        Assert.False(e.TryGet("nope", out _));
    }

    [Fact]
    public void Build_is_deterministic_and_independent_of_interaction_order()
    {
        var ds = SyntheticGenerator.Generate(Small);
        var a = ItemEmbedder.Build(ds.Items, ds.Interactions);
        var b = ItemEmbedder.Build(ds.Items, [.. ds.Interactions.Reverse()]);
        Assert.Equal(a.Matrix, b.Matrix);
        var c = ItemEmbedder.Build(ds.Items, ds.Interactions, new ItemEmbedderOptions { Seed = 99 });
        // Another random start converges to (nearly) the same subspace, but not to the same bits.
        Assert.NotEqual(a.Matrix, c.Matrix);
    }

    [Fact]
    public void Items_of_a_category_are_closer_than_items_across_categories()
    {
        // Without the co-dislike block, which groups items by who dislikes them rather than by what they are.
        var ds = SyntheticGenerator.Generate(Small);
        var e = ItemEmbedder.Build(ds.Items, ds.Interactions, new ItemEmbedderOptions { NegativeFactors = 0 });
        double sameLeaf = 0, sameSub = 0, crossTop = 0;
        int nLeaf = 0, nSub = 0, nTop = 0;
        for (int a = 0; a < e.Count; a++)
            for (int b = a + 1; b < e.Count; b++)
            {
                var pa = ds.Items[a].Categories[0].Split('/');
                var pb = ds.Items[b].Categories[0].Split('/');
                double c = Cosine(e.Row(a), e.Row(b));
                if (pa[2] == pb[2]) { sameLeaf += c; nLeaf++; }
                else if (pa[1] == pb[1]) { sameSub += c; nSub++; }
                else if (pa[0] != pb[0]) { crossTop += c; nTop++; }
            }
        sameLeaf /= nLeaf; sameSub /= nSub; crossTop /= nTop;
        Assert.True(sameLeaf > sameSub && sameSub > crossTop + 0.2, $"leaf {sameLeaf:F3}, sub-category {sameSub:F3}, across top {crossTop:F3}");
    }

    [Fact]
    public void The_co_dislike_block_groups_items_the_same_users_dislike()
    {
        // u1, u2 dislike a and b (different categories); u3, u4 dislike c and d; everyone likes e. Negatives alone decide the block.
        var items = new[] { Item("a"), Item("b"), Item("c"), Item("d"), Item("e") };
        var xs = new List<Interaction>();
        foreach (var (u, pair) in new[] { ("u1", "ab"), ("u2", "ab"), ("u3", "cd"), ("u4", "cd") })
        {
            foreach (var i in pair) xs.Add(new Interaction(u, i.ToString(), T0, FeedbackKind.Negative));
            xs.Add(new Interaction(u, "e", T0, FeedbackKind.Click));
        }
        var e = ItemEmbedder.Build(items, xs, Only("neg") with { NegativeFactors = 2 });
        Assert.Equal(1, Cosine(e.Row(0), e.Row(1)), 5);
        Assert.Equal(1, Cosine(e.Row(2), e.Row(3)), 5);
        Assert.Equal(0, Cosine(e.Row(0), e.Row(2)), 5);
        Assert.All(e.Row(4).ToArray(), v => Assert.Equal(0, v)); // only liked: no co-dislike signal
    }

    [Fact]
    public void Interactions_after_the_training_cutoff_cannot_change_the_embeddings()
    {
        var ds = SyntheticGenerator.Generate(Small);
        var cutoff = ds.Interactions[ds.Interactions.Count * 8 / 10].Timestamp;
        var train = ds.Interactions.Where(x => x.Timestamp < cutoff).ToList();
        // Test-period rows that would matter a lot if they leaked: flip them all to negatives.
        var withTest = train.Concat(ds.Interactions.Where(x => x.Timestamp >= cutoff).Select(x => x with { Kind = FeedbackKind.Negative })).ToList();
        var options = new ItemEmbedderOptions { TrainCutoff = cutoff };
        var a = ItemEmbedder.Build(ds.Items, train, options);
        var b = ItemEmbedder.Build(ds.Items, withTest, options);
        Assert.Equal(a.Matrix, b.Matrix);
        Assert.NotEqual(a.Matrix, ItemEmbedder.Build(ds.Items, withTest).Matrix); // without the cutoff they do leak
    }

    [Fact]
    public void Category_block_shares_prefixes_hierarchically()
    {
        // Enough buckets that the five features do not collide: cosines are then exact prefix overlaps.
        var options = Only("cat") with { CategoryBuckets = 4096 };
        var e = ItemEmbedder.Build([Item("a", categories: ["x/y/z"]), Item("b", categories: ["x/y/w"]), Item("c", categories: ["x/v/w"]), Item("d", categories: ["q"])], [], options);
        Assert.Equal(2.0 / 3, Cosine(e.Row(0), e.Row(1)), 5); // shares "x", "x/y" of 3 prefixes each
        Assert.Equal(1.0 / 3, Cosine(e.Row(0), e.Row(2)), 5); // shares "x"
        Assert.Equal(0, Cosine(e.Row(0), e.Row(3)), 5);
    }

    [Fact]
    public void Numbers_are_z_scored_angles_and_missing_means_average()
    {
        var items = new[]
        {
            Item("p10", numbers: new() { ["price"] = 10 }),
            Item("p20", numbers: new() { ["price"] = 20 }),
            Item("p30", numbers: new() { ["price"] = 30 }),
            Item("none"),
        };
        var e = ItemEmbedder.Build(items, [], Only("num"));
        // mean 20, std sqrt(200/3) = 8.165, z = ±1.2247; θ = π/4·(1 + z/3); cos(θ30 − θ10) = cos(π/4·0.8165) = 0.80131.
        Assert.Equal(0.80131, Cosine(e.Row(0), e.Row(2)), 4);
        Assert.Equal(1, Cosine(e.Row(1), e.Row(3)), 6);
        Assert.Equal(Math.Cos(Math.PI / 4 * 0.40825), Cosine(e.Row(0), e.Row(1)), 4);
    }

    [Fact]
    public void Titles_sharing_words_are_closer_and_tokens_are_lower_cased_runs()
    {
        Assert.Equal(["toy", "story", "2", "nénette"], ItemEmbedder.Tokenize("Toy  Story-2! (Nénette)"));
        var e = ItemEmbedder.Build([Item("a", "Red Planet Mission"), Item("b", "Red Planet Story"), Item("c", "Quiet Garden")], [], Only("text"));
        Assert.True(Cosine(e.Row(0), e.Row(1)) > 0.4);
        Assert.True(Math.Abs(Cosine(e.Row(0), e.Row(2))) < 0.3);
    }

    [Fact]
    public void Collaborative_block_is_the_rank_one_structure_for_a_rank_one_matrix()
    {
        // Users u1, u2 like a and b and dislike c; d has no interactions. A = [[1,1],[1,1],[-1,-1],[0,0]].
        var items = new[] { Item("a"), Item("b"), Item("c"), Item("d") };
        var xs = new List<Interaction>();
        foreach (var u in new[] { "u1", "u2" })
        {
            xs.Add(new Interaction(u, "a", T0, FeedbackKind.Click));
            xs.Add(new Interaction(u, "b", T0, FeedbackKind.Purchase));
            xs.Add(new Interaction(u, "c", T0, FeedbackKind.Negative));
        }
        var e = ItemEmbedder.Build(items, xs, Only("cf") with { Factors = 2, NegativeFactors = 0 });
        int cf = e.Dimension - 2;
        Assert.Equal(1, e.Row(0)[cf], 5);    // sign fixed: the first largest entry is positive
        Assert.Equal(1, e.Row(1)[cf], 5);
        Assert.Equal(-1, e.Row(2)[cf], 5);
        Assert.Equal(0, e.Row(0)[cf + 1], 5); // rank 1: the second factor is empty
        Assert.All(e.Row(3).ToArray(), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Jacobi_finds_the_eigenpairs_of_a_small_symmetric_matrix()
    {
        var (values, vectors) = RandomizedSvd.JacobiEigen(new double[,] { { 2, 1 }, { 1, 2 } });
        var sorted = values.Order().ToArray();
        Assert.Equal(1, sorted[0], 10);
        Assert.Equal(3, sorted[1], 10);
        int big = values[0] > values[1] ? 0 : 1;
        Assert.Equal(Math.Abs(vectors[0, big]), Math.Abs(vectors[1, big]), 10); // (1, 1)/√2
        Assert.Equal(vectors[0, big], vectors[1, big], 10);
    }

    [Fact]
    public void Unknown_items_in_interactions_and_bad_options_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ItemEmbedder.Build([Item("a")], [new Interaction("u", "zz", T0, FeedbackKind.Click)]));
        Assert.Contains("'zz'", e.Message);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => ItemEmbedder.Build([Item("a")], [], new ItemEmbedderOptions { TextBuckets = -1 }));
        Assert.Contains("TextBuckets", o.Message);
    }
}
