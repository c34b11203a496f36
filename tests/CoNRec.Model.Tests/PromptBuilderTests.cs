using CoNRec.Core;
using CoNRec.Model.Prompting;
using CoNRec.Model.Tokenization;
using Xunit;

namespace CoNRec.Model.Tests;

public sealed class PromptBuilderTests
{
    private const int Levels = 3, Codes = 16;
    private static readonly DateTimeOffset T0 = new(2025, 3, 10, 12, 0, 0, TimeSpan.Zero);

    private static readonly HfTokenizer Tok =
        HfTokenizer.FromJson(TestTokenizerBuilder.ToBytes(TestTokenizerBuilder.Build(Levels, Codes)), "t.json");

    private static readonly SidTokenMap Sids = SidTokenMap.Create(Tok, Levels, Codes);

    // Items i0..i15 have SID [k, k+1, k+2] (mod 16); anything else is unknown.
    private static uint[]? Lookup(string itemId) =>
        itemId.StartsWith('i') && int.TryParse(itemId.AsSpan(1), out int k) && k is >= 0 and < Codes
            ? [(uint)k, (uint)((k + 1) % Codes), (uint)((k + 2) % Codes)]
            : null;

    private static string Sid(int k) => Sids.Render(Lookup("i" + k));

    private static PromptBuilder Builder(PromptTemplate t) => new(t, Sids, Tok, Lookup);

    private static HistoryEvent Ev(int item, double daysAgo, string? kind = null) => new("i" + item, T0.AddDays(-daysAgo), kind);

    private static UserHistory History(IEnumerable<HistoryEvent> negatives, IEnumerable<HistoryEvent>? positives = null) =>
        new("u1", negatives.ToList(), (positives ?? []).ToList());

    private static void AssertConsistent(PromptResult r, PromptTemplate t)
    {
        Assert.False(r.Empty);
        Assert.Equal(Tok.Encode(r.Text), r.TokenIds);
        Assert.True(r.TokenCount <= t.MaxTokens);
    }

    [Fact]
    public void Recent_negatives_keep_only_the_window_oldest_first()
    {
        var t = new PromptTemplate { Context = PromptContext.RecentNegatives };
        // Input out of order on purpose.
        var r = Builder(t).Build(History([Ev(1, 0), Ev(2, 5), Ev(3, 2.5), Ev(4, 1)]));
        AssertConsistent(r, t);
        Assert.Equal(3, r.NegativesUsed);
        Assert.Equal(T0, r.ReferenceTime);
        Assert.Equal(
            $"<|im_start|>user\nThe user disliked: {Sid(3)}, {Sid(4)}, {Sid(1)}. Predict items the user will dislike.<|im_end|>\n<|im_start|>assistant\n",
            r.Text);
    }

    [Fact]
    public void Recent_window_is_relative_to_the_newest_event_or_as_of()
    {
        var t = new PromptTemplate { Context = PromptContext.RecentNegatives, RecentDays = 3 };
        // The newest event is a positive: it sets the reference time even though positives are not shown.
        var h = History([Ev(1, 10), Ev(2, 4)], [Ev(5, 2)]);
        var r = Builder(t).Build(h);
        Assert.Equal(1, r.NegativesUsed);
        Assert.Contains(Sid(2), r.Text);
        Assert.DoesNotContain(Sid(5), r.Text);

        // An explicit as-of moves the window and hides later events.
        var past = Builder(t).Build(h, asOf: T0.AddDays(-9));
        Assert.Equal(1, past.NegativesUsed);
        Assert.Contains(Sid(1), past.Text);
        Assert.DoesNotContain(Sid(2), past.Text);
    }

    [Fact]
    public void All_negatives_ignores_age_and_positives()
    {
        var t = new PromptTemplate { Context = PromptContext.AllNegatives };
        var r = Builder(t).Build(History([Ev(1, 400), Ev(2, 30), Ev(3, 0)], [Ev(7, 1)]));
        AssertConsistent(r, t);
        Assert.Equal((3, 0), (r.NegativesUsed, r.PositivesUsed));
        Assert.Contains($"disliked: {Sid(1)}, {Sid(2)}, {Sid(3)}. Predict", r.Text);
        Assert.DoesNotContain("The user liked", r.Text);
    }

    [Fact]
    public void Negatives_and_positives_adds_the_clause()
    {
        var t = new PromptTemplate { Context = PromptContext.NegativesAndPositives };
        var r = Builder(t).Build(History([Ev(1, 3), Ev(2, 1)], [Ev(8, 2, "click"), Ev(9, 0, "purchase")]));
        AssertConsistent(r, t);
        Assert.Equal((2, 2), (r.NegativesUsed, r.PositivesUsed));
        Assert.Contains($"disliked: {Sid(1)}, {Sid(2)}. The user liked: {Sid(8)}, {Sid(9)}. Predict", r.Text);

        // No positives: no clause, and the prompt equals the all-negatives one.
        var noPos = Builder(t).Build(History([Ev(1, 3), Ev(2, 1)]));
        Assert.Equal(Builder(new PromptTemplate { Context = PromptContext.AllNegatives }).Build(History([Ev(1, 3), Ev(2, 1)])).Text, noPos.Text);
    }

    [Fact]
    public void Caps_keep_the_most_recent_events()
    {
        var t = new PromptTemplate { Context = PromptContext.NegativesAndPositives, MaxNegatives = 2, MaxPositives = 1 };
        var r = Builder(t).Build(History([Ev(1, 9), Ev(2, 8), Ev(3, 7), Ev(4, 6)], [Ev(10, 5), Ev(11, 4)]));
        AssertConsistent(r, t);
        Assert.Equal((2, 1), (r.NegativesUsed, r.PositivesUsed));
        Assert.Contains($"disliked: {Sid(3)}, {Sid(4)}. The user liked: {Sid(11)}. Predict", r.Text);
        Assert.Equal(0, r.DroppedForLength);
    }

    [Fact]
    public void Equal_timestamps_keep_input_order()
    {
        var t = new PromptTemplate { MaxNegatives = 2 };
        var r = Builder(t).Build(History([Ev(5, 1), Ev(6, 1), Ev(7, 1)]));
        Assert.Contains($"disliked: {Sid(6)}, {Sid(7)}.", r.Text);
        // Same input again gives the same prompt.
        Assert.Equal(r, Builder(t).Build(History([Ev(5, 1), Ev(6, 1), Ev(7, 1)])) with { TokenIds = r.TokenIds });
    }

    [Fact]
    public void Max_tokens_drops_the_oldest_negatives_until_it_fits()
    {
        var all = Enumerable.Range(0, 10).Select(k => Ev(k, 10 - k)).ToList(); // i0 oldest ... i9 newest
        int full = Builder(new PromptTemplate()).Build(History(all)).TokenCount;

        var t = new PromptTemplate { MaxTokens = full - 1 };
        var r = Builder(t).Build(History(all));
        AssertConsistent(r, t);
        Assert.Equal((9, 1), (r.NegativesUsed, r.DroppedForLength));
        Assert.DoesNotContain(Sid(0), r.Text);
        Assert.Contains($"disliked: {Sid(1)}, ", r.Text);

        // Each SID costs L tokens plus the separator's two (",", " "): 4 items' worth less keeps 6.
        var t4 = new PromptTemplate { MaxTokens = full - 4 * (Levels + 2) };
        var r4 = Builder(t4).Build(History(all));
        AssertConsistent(r4, t4);
        Assert.Equal(6, r4.NegativesUsed);
        Assert.Equal(full - 4 * (Levels + 2), r4.TokenCount);
        Assert.Contains($"disliked: {Sid(4)}, ", r4.Text);
    }

    [Fact]
    public void Max_tokens_drops_positives_before_negatives()
    {
        var negatives = new[] { Ev(1, 5), Ev(2, 4) };
        var positives = new[] { Ev(10, 6), Ev(11, 3), Ev(12, 2) };
        var both = new PromptTemplate { Context = PromptContext.NegativesAndPositives };
        int full = Builder(both).Build(History(negatives, positives)).TokenCount;

        var t = both with { MaxTokens = full - 1 };
        var r = Builder(t).Build(History(negatives, positives));
        AssertConsistent(r, t);
        Assert.Equal((2, 2, 1), (r.NegativesUsed, r.PositivesUsed, r.DroppedForLength));
        Assert.Contains($"liked: {Sid(11)}, {Sid(12)}.", r.Text);

        // Tight enough that every positive (and the clause) goes, and then the oldest negative.
        int negativesOnly = Builder(new PromptTemplate()).Build(History(negatives)).TokenCount;
        var tight = both with { MaxTokens = negativesOnly - 1 };
        var r2 = Builder(tight).Build(History(negatives, positives));
        AssertConsistent(r2, tight);
        Assert.Equal((1, 0), (r2.NegativesUsed, r2.PositivesUsed));
        Assert.DoesNotContain("The user liked", r2.Text);
        Assert.Contains($"disliked: {Sid(2)}.", r2.Text);
    }

    [Fact]
    public void Template_too_long_for_max_tokens_is_empty()
    {
        var t = new PromptTemplate { MaxTokens = 5 };
        var r = Builder(t).Build(History([Ev(1, 1)]));
        Assert.True(r.Empty);
        Assert.Contains("max_tokens = 5", r.EmptyReason);
        Assert.Empty(r.TokenIds);
        Assert.Equal(1, r.DroppedForLength);
    }

    [Fact]
    public void Unknown_items_are_skipped_and_counted()
    {
        var t = new PromptTemplate { Context = PromptContext.NegativesAndPositives };
        var h = History(
            [Ev(1, 3), new HistoryEvent("ghost", T0.AddDays(-2), null), Ev(2, 1)],
            [new HistoryEvent("gone", T0.AddDays(-1), "click"), Ev(9, 0)]);
        var r = Builder(t).Build(h);
        AssertConsistent(r, t);
        Assert.Equal((2, 1, 2), (r.NegativesUsed, r.PositivesUsed, r.SkippedUnknown));
        Assert.Contains($"disliked: {Sid(1)}, {Sid(2)}. The user liked: {Sid(9)}.", r.Text);
    }

    [Fact]
    public void Unknown_items_do_not_use_up_the_cap()
    {
        var t = new PromptTemplate { MaxNegatives = 2 };
        var r = Builder(t).Build(History([Ev(1, 4), Ev(2, 3), new HistoryEvent("x", T0.AddDays(-1), null), new HistoryEvent("y", T0, null)]));
        Assert.Equal((2, 2), (r.NegativesUsed, r.SkippedUnknown));
        Assert.Contains($"{Sid(1)}, {Sid(2)}", r.Text);
    }

    [Fact]
    public void No_usable_negative_is_flagged_empty()
    {
        var t = new PromptTemplate();
        Assert.True(Builder(t).Build(History([])).Empty);

        var unknownOnly = Builder(t).Build(History([new HistoryEvent("x", T0, null)], [Ev(3, 1)]));
        Assert.True(unknownOnly.Empty);
        Assert.Equal(1, unknownOnly.SkippedUnknown);
        Assert.Contains("no known negatives", unknownOnly.EmptyReason);

        // Recent context: negatives exist but all are older than the window.
        var stale = Builder(t with { Context = PromptContext.RecentNegatives }).Build(History([Ev(1, 10)], [Ev(3, 0)]));
        Assert.True(stale.Empty);

        // The positives context needs a negative or a positive.
        var both = t with { Context = PromptContext.NegativesAndPositives };
        Assert.True(Builder(both).Build(History([], [new HistoryEvent("x", T0, null)])).Empty);
        var positivesOnly = Builder(both).Build(History([], [Ev(3, 0)]));
        Assert.False(positivesOnly.Empty);
        Assert.Equal((0, 1), (positivesOnly.NegativesUsed, positivesOnly.PositivesUsed));
    }

    [Fact]
    public void Packed_catalog_gives_the_same_prompt()
    {
        var layout = new SidLayout(Levels, Codes);
        var packed = Enumerable.Range(0, Codes).ToDictionary(k => "i" + k, k => layout.Pack(Lookup("i" + k)));
        var t = new PromptTemplate();
        var h = History([Ev(1, 2), Ev(15, 1), new HistoryEvent("zz", T0, null)]);
        var fromDict = new PromptBuilder(t, Sids, Tok, packed, layout).Build(h);
        Assert.Equal(Builder(t).Build(h).Text, fromDict.Text);
        Assert.Equal(1, fromDict.SkippedUnknown);

        Assert.Throws<ArgumentException>(() => new PromptBuilder(t, Sids, Tok, packed, new SidLayout(Levels, 32)));
    }

    [Fact]
    public void Catalog_sid_out_of_range_is_a_data_error()
    {
        var b = new PromptBuilder(new PromptTemplate(), Sids, Tok, _ => [1u, 2u, 99u]);
        var e = Assert.Throws<InvalidDataException>(() => b.Build(History([Ev(1, 0)])));
        Assert.Contains("'i1'", e.Message);
    }

    [Fact]
    public void Invalid_template_is_rejected_by_the_builder()
    {
        var e = Assert.Throws<ArgumentException>(() => Builder(new PromptTemplate { MaxTokens = 0 }));
        Assert.Contains("'prompt.max_tokens'", e.Message);
    }
}
