using System.Diagnostics;
using CoNRec.Offline.Data;
using Xunit;

namespace CoNRec.Offline.Tests;

public class SyntheticGeneratorTests
{
    private static readonly SyntheticSpec Small = new() { Users = 200, Items = 300, Days = 20 };

    private static byte[] SavedBytes(InteractionDataset ds)
    {
        using var dir = new TempDir();
        DatasetFiles.Save(ds, dir.Path);
        return [.. File.ReadAllBytes(dir.File(DatasetFiles.ItemsFile)), .. File.ReadAllBytes(dir.File(DatasetFiles.InteractionsFile))];
    }

    [Fact]
    public void Same_seed_gives_byte_identical_files_and_another_seed_differs()
    {
        var a = SavedBytes(SyntheticGenerator.Generate(Small));
        var b = SavedBytes(SyntheticGenerator.Generate(Small));
        var c = SavedBytes(SyntheticGenerator.Generate(Small with { Seed = 8 }));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Defaults_are_fast_sparse_in_negatives_and_span_the_days()
    {
        var sw = Stopwatch.StartNew();
        var r = SyntheticGenerator.GenerateWithTruth(new SyntheticSpec());
        sw.Stop();
        var ds = r.Dataset;
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"generation took {sw.Elapsed}");
        Assert.Equal(1200, ds.Items.Count);
        Assert.Equal(1500, r.Users.Count);
        Assert.InRange(ds.Interactions.Count, 20_000, 200_000);
        double negativeShare = ds.Interactions.Count(x => x.IsNegative) / (double)ds.Interactions.Count;
        Assert.InRange(negativeShare, 0.05, 0.15);
        // Every recorded interaction is either negative or positive feedback (unrecorded exposures are not rows).
        Assert.All(ds.Interactions, x => Assert.True(x.IsNegative || x.IsPositive));
        var start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.InRange(ds.Interactions[0].Timestamp, start, start.AddDays(1));
        Assert.InRange(ds.Interactions[^1].Timestamp, start.AddDays(59), start.AddDays(60));
        // Each leaf of the 6 × 4 × 3 tree holds items, and paths have the documented shape.
        var leaves = ds.Items.Select(i => Assert.Single(i.Categories)).Distinct().ToList();
        Assert.Equal(72, leaves.Count);
        Assert.Contains("c2/c2.1/c2.1.0", leaves);
    }

    [Fact]
    public void Negatives_concentrate_in_each_users_latent_negative_areas()
    {
        var r = SyntheticGenerator.GenerateWithTruth(Small with { Days = 60 });
        var ds = r.Dataset;
        int usersChecked = 0, usersConcentrated = 0, negatives = 0, negativesInArea = 0;
        foreach (var g in ds.Interactions.Where(x => x.IsNegative).GroupBy(x => x.UserId))
        {
            var user = r.Users[g.Key];
            Assert.InRange(user.NegativeAreas.Count, 1, 3);
            int inArea = g.Count(x => user.Dislikes(ds.ItemsById[x.ItemId].Categories[0]));
            negatives += g.Count();
            negativesInArea += inArea;
            if (g.Count() < 3) continue; // too few to speak of a share
            usersChecked++;
            if (inArea > 0.6 * g.Count()) usersConcentrated++;
        }
        // Random dislikes outside the latent areas exist (noise), so a few users fall below; most must not.
        Assert.True(negativesInArea > 0.8 * negatives, $"{negativesInArea} of {negatives} negatives in latent areas");
        Assert.True(usersChecked > 50, $"only {usersChecked} users had 3+ negatives");
        Assert.True(usersConcentrated > 0.85 * usersChecked, $"{usersConcentrated} of {usersChecked} users have > 60% of negatives in their latent areas");
        // Conversely, positives almost never fall in disliked areas (they can only come from nowhere else).
        Assert.DoesNotContain(ds.Interactions, x => x.IsPositive && r.Users[x.UserId].Dislikes(ds.ItemsById[x.ItemId].Categories[0]));
    }

    [Fact]
    public void Titles_carry_the_leaf_vocabulary()
    {
        var ds = SyntheticGenerator.Generate(Small);
        // Two items of the same leaf share a title word far more often than two items of different top categories.
        var items = ds.Items;
        var words = items.Select(i => new HashSet<string>(i.Title.ToLowerInvariant().Split(' '))).ToArray();
        int sameLeafShared = 0, sameLeafPairs = 0, crossShared = 0, crossPairs = 0;
        for (int a = 0; a < items.Count; a++)
            for (int b = a + 1; b < items.Count; b++)
            {
                bool shared = words[a].Overlaps(words[b]);
                if (items[a].Categories[0] == items[b].Categories[0]) { sameLeafPairs++; if (shared) sameLeafShared++; }
                else if (items[a].Categories[0][..2] != items[b].Categories[0][..2]) { crossPairs++; if (shared) crossShared++; }
            }
        Assert.True(sameLeafShared / (double)sameLeafPairs > 3 * crossShared / (double)crossPairs);
    }

    [Fact]
    public void Latent_area_matching_respects_path_boundaries()
    {
        var u = new SyntheticUser("u", ["c1/c1.1"], ["c2/c2.0"]);
        Assert.True(u.Dislikes("c1/c1.1/c1.1.2"));
        Assert.True(u.Dislikes("c1/c1.1"));
        Assert.False(u.Dislikes("c1/c1.10/c1.10.0")); // a prefix of the text, not of the path
        Assert.True(u.Likes("c2/c2.0/c2.0.0"));
    }

    [Fact]
    public void Bad_specs_are_rejected_by_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticGenerator.Generate(new SyntheticSpec { Users = 0 }));
        Assert.Contains("Users", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticGenerator.Generate(new SyntheticSpec { MinNegativeAreas = 3, MaxNegativeAreas = 2 }));
        Assert.Contains("MaxNegativeAreas", e.Message);
    }
}
