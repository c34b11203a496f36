using CoNRec.Core;
using Xunit;

namespace CoNRec.Core.Tests;

/// <summary>The negative profile: its stored form, its one scoring rule, and how its recent parts are picked.</summary>
public class ProfileCodecTests
{
    private static readonly SidLayout Layout = new(3, 8192);

    private static ulong[] Sids(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Layout.Pack([(uint)rng.Next(8192), (uint)rng.Next(8192), (uint)rng.Next(8192)]))];
    }

    [Theory]
    [InlineData(20, 10, 10)]
    [InlineData(0, 3, 0)]
    [InlineData(1, 0, 5)]
    [InlineData(255, 255, 255)]
    public void A_profile_round_trips_in_its_three_parts(int predicted, int negatives, int positives)
    {
        ulong[] p = Sids(predicted, 1), n = Sids(negatives, 2), q = Sids(positives, 3);
        var buffer = new byte[SidSetCodec.ProfileLength(Layout, predicted, negatives, positives)];
        int written = SidSetCodec.EncodeProfile(Layout, p, n, q, buffer);
        Assert.Equal(buffer.Length, written);
        var decoded = new ulong[SidSetCodec.MaxProfileCount];
        Assert.Null(SidSetCodec.TryDecodeProfile(buffer, Layout, decoded, out var counts));
        Assert.Equal(new ProfileCounts(predicted, negatives, positives), counts);
        Assert.Equal(p, decoded[..predicted]);
        Assert.Equal(n, decoded[predicted..(predicted + negatives)]);
        Assert.Equal(q, decoded[(predicted + negatives)..counts.Total]);
    }

    [Fact]
    public void A_profile_of_20_plus_10_plus_10_at_K8192_is_201_bytes()
    {
        // 6 header bytes + 40 SIDs x 39 bits = 1560 bits = 195 bytes: the memory budget's per-user payload.
        Assert.Equal(201, SidSetCodec.ProfileLength(Layout, 20, 10, 10));
    }

    [Fact]
    public void A_profile_with_only_predictions_is_byte_identical_to_the_old_prediction_list()
    {
        var p = Sids(20, 4);
        var profile = new byte[SidSetCodec.ProfileLength(Layout, 20, 0, 0)];
        SidSetCodec.EncodeProfile(Layout, p, [], [], profile);
        Assert.Equal(SidSetCodec.Encode(Layout, p), profile);
        // and an old value decodes as a profile of predictions only
        var decoded = new ulong[SidSetCodec.MaxProfileCount];
        Assert.Null(SidSetCodec.TryDecodeProfile(SidSetCodec.Encode(Layout, p), Layout, decoded, out var counts));
        Assert.Equal(new ProfileCounts(20, 0, 0), counts);
    }

    [Fact]
    public void Malformed_profiles_are_reported_never_thrown()
    {
        var good = new byte[SidSetCodec.ProfileLength(Layout, 2, 1, 1)];
        SidSetCodec.EncodeProfile(Layout, Sids(2, 5), Sids(1, 6), Sids(1, 7), good);
        var decoded = new ulong[SidSetCodec.MaxProfileCount];
        Assert.Contains("header", SidSetCodec.TryDecodeProfile(good.AsSpan(0, 5), Layout, decoded, out _));
        Assert.Contains("needs", SidSetCodec.TryDecodeProfile(good.AsSpan(0, good.Length - 1), Layout, decoded, out _));
        var wrongVersion = (byte[])good.Clone();
        wrongVersion[0] = 9;
        Assert.Contains("version 9", SidSetCodec.TryDecodeProfile(wrongVersion, Layout, decoded, out _));
        Assert.Contains("3 levels x 13 bits", SidSetCodec.TryDecodeProfile(good, new SidLayout(2, 8192), decoded, out _));
        Assert.Contains("exceed the buffer", SidSetCodec.TryDecodeProfile(good, Layout, new ulong[3], out _));
        // a code >= K inside the stream: K = 5000 needs 13 bits like 8192, so 8191 is representable but invalid
        var small = new SidLayout(3, 5000);
        var bytes = new byte[SidSetCodec.ProfileLength(small, 0, 1, 0)];
        SidSetCodec.EncodeProfile(small, [], [small.Pack([1, 2, 3])], [], bytes);
        bytes[SidSetCodec.ProfileHeaderBytes] = 0xFF;
        bytes[SidSetCodec.ProfileHeaderBytes + 1] |= 0x1F;
        Assert.Contains("code >= 5000", SidSetCodec.TryDecodeProfile(bytes, small, decoded, out _));
        var rng = new Random(11);
        for (int i = 0; i < 2000; i++)
        {
            var junk = new byte[rng.Next(0, 80)];
            rng.NextBytes(junk);
            if (junk.Length > 0) junk[0] = (byte)(rng.Next(2) + 1);
            _ = SidSetCodec.TryDecodeProfile(junk, Layout, decoded, out _); // must not throw
        }
    }

    [Fact]
    public void Encoding_rejects_parts_over_255_and_invalid_sids()
    {
        var buffer = new byte[4096];
        Assert.Throws<ArgumentException>(() => SidSetCodec.EncodeProfile(Layout, [], Sids(256, 1), Sids(1, 2), buffer));
        var e = Assert.Throws<ArgumentException>(() => SidSetCodec.EncodeProfile(Layout, [], [ulong.MaxValue], [], buffer));
        Assert.Contains("negatives", e.Message);
    }
}

public class ProfileScoringTests
{
    private const int D = 8;

    /// <summary>A codebook with one level and K unit codewords along chosen directions: SID k reconstructs to exactly row k.</summary>
    private static Codebook Rows(params float[][] rows)
    {
        var data = new float[rows.Length * D];
        for (int k = 0; k < rows.Length; k++) rows[k].CopyTo(data, k * D);
        return Codebook.Create(1, rows.Length, D, data);
    }

    private static float[] Unit(params (int Axis, float Value)[] parts)
    {
        var v = new float[D];
        foreach (var (axis, value) in parts) v[axis] = value;
        return v;
    }

    private static float[] Reconstruct(Codebook cb, params ulong[] sids)
    {
        var rows = new float[sids.Length * D];
        for (int i = 0; i < sids.Length; i++) cb.Reconstruct(sids[i], rows.AsSpan(i * D, D));
        return rows;
    }

    private static (float[] Score, int[] Index, MatchSource[] Source, float[] Positive) Run(Codebook cb, ulong[] candidates, ulong[] predicted,
        ulong[] negatives, ulong[] feedback, ulong[] positives, float guard, float predictedWeight = 1f)
    {
        int n = candidates.Length;
        ulong[] negativeSide = [.. predicted, .. negatives, .. feedback];
        var profile = new ProfileRows
        {
            NegativeRows = Reconstruct(cb, negativeSide), NegativeSids = negativeSide, Predicted = predicted.Length, RecentNegatives = negatives.Length,
            PositiveRows = Reconstruct(cb, positives), PositiveSids = positives,
        };
        var score = new float[n];
        var index = new int[n];
        var source = new MatchSource[n];
        var positive = new float[n];
        ProfileScoring.Score(Reconstruct(cb, candidates), candidates, D, profile, new ProfileRule(guard, predictedWeight), score, index, source, positive, new float[n], new int[n]);
        return (score, index, source, positive);
    }

    [Fact]
    public void An_exact_sid_scores_exactly_one_and_anything_else_stays_below_one()
    {
        // Codewords 0 and 1 are the same direction: their cosine rounds to 1 (or above) in float, but they are different SIDs.
        float s = 1f / MathF.Sqrt(3);
        var cb = Rows(Unit((0, s), (1, s), (2, s)), Unit((0, s), (1, s), (2, s)), Unit((3, 1)));
        var (score, index, source, _) = Run(cb, [0, 1, 2], predicted: [0], negatives: [], feedback: [], positives: [], guard: 0);
        Assert.Equal(1f, score[0]);
        Assert.Equal(ProfileScoring.BelowExact, score[1]); // identical reconstruction, different SID: one float below the exact group
        Assert.True(score[2] < 0.01f);
        Assert.Equal([0, 0, 0], index);
        Assert.All(source, x => Assert.Equal(MatchSource.Predicted, x));
    }

    [Fact]
    public void Sources_and_indices_point_into_the_part_that_matched()
    {
        var cb = Rows(Unit((0, 1)), Unit((1, 1)), Unit((2, 1)), Unit((3, 1)), Unit((4, 1)));
        // predicted [0, 1], recent negatives [2, 3], feedback [4]
        var (score, index, source, positive) = Run(cb, [1, 3, 4], predicted: [0, 1], negatives: [2, 3], feedback: [4], positives: [], guard: 0.5f);
        Assert.Equal([1f, 1f, 1f], score);
        Assert.Equal([MatchSource.Predicted, MatchSource.RecentNegative, MatchSource.Feedback], source);
        Assert.Equal([1, 1, 0], index);
        Assert.Equal([0f, 0f, 0f], positive); // no positive side: no guard
    }

    [Fact]
    public void The_positive_guard_subtracts_weight_times_the_positive_cosine_when_positive()
    {
        // Candidate c = (0.6, 0.8): negative side row (1, 0) gives 0.6, positive side row (0, 1) gives 0.8.
        var cb = Rows(Unit((0, 0.6f), (1, 0.8f)), Unit((0, 1)), Unit((1, 1)), Unit((1, -1)));
        var (score, _, _, positive) = Run(cb, [0], predicted: [1], negatives: [], feedback: [], positives: [2], guard: 0.5f);
        Assert.Equal(0.8f, positive[0], 6);
        Assert.Equal(0.6f - (0.5f * 0.8f), score[0], 6);
        // A positive side pointing away (cosine −0.8) does not add to the score: the guard only ever lowers it.
        var (away, _, _, negativePositive) = Run(cb, [0], predicted: [1], negatives: [], feedback: [], positives: [3], guard: 0.5f);
        Assert.Equal(-0.8f, negativePositive[0], 6);
        Assert.Equal(0.6f, away[0], 6);
        // Exactly the liked SID and exactly a predicted SID: 1 − guard, exactly.
        var (both, _, _, one) = Run(cb, [1], predicted: [1], negatives: [], feedback: [], positives: [1], guard: 0.5f);
        Assert.Equal(1f, one[0]);
        Assert.Equal(0.5f, both[0]);
    }

    [Fact]
    public void The_predicted_weight_scales_model_matches_and_what_the_user_gave_wins_ties()
    {
        // c = (0.6, 0.8): predicted row (0, 1) gives 0.8, recent negative row (1, 0) gives 0.6.
        var cb = Rows(Unit((0, 0.6f), (1, 0.8f)), Unit((0, 1)), Unit((1, 1)));
        var (full, _, fullSource, _) = Run(cb, [0], predicted: [2], negatives: [1], feedback: [], positives: [], guard: 0, predictedWeight: 1f);
        Assert.Equal((0.8f, MatchSource.Predicted), (full[0], fullSource[0]));
        // At 0.5 the model's 0.8 counts 0.4: the recent negative's 0.6 is the best match now.
        var (half, index, halfSource, _) = Run(cb, [0], predicted: [2], negatives: [1], feedback: [], positives: [], guard: 0, predictedWeight: 0.5f);
        Assert.Equal((0.6f, MatchSource.RecentNegative, 0), (half[0], halfSource[0], index[0]), new ApproxTuple());
        // An exact predicted SID scores exactly the weight; the same SID also given by the user scores exactly 1, as given.
        var (exact, _, exactSource, _) = Run(cb, [2, 1], predicted: [2, 1], negatives: [1], feedback: [], positives: [], guard: 0, predictedWeight: 0.7f);
        Assert.Equal([0.7f, 1f], exact);
        Assert.Equal([MatchSource.Predicted, MatchSource.RecentNegative], exactSource);
        // Weight 1 and an exact SID in both parts: a tie, which goes to what the user gave.
        var (tie, _, tieSource, _) = Run(cb, [1], predicted: [1], negatives: [1], feedback: [], positives: [], guard: 0, predictedWeight: 1f);
        Assert.Equal((1f, MatchSource.RecentNegative), (tie[0], tieSource[0]));
        Assert.Contains("'predicted_weight' = 1.5 must be a finite number in [0, 1]", ProfileScoring.ValidatePredictedWeight(1.5));
    }

    private sealed class ApproxTuple : IEqualityComparer<(float, MatchSource, int)>
    {
        public bool Equals((float, MatchSource, int) a, (float, MatchSource, int) b) => Math.Abs(a.Item1 - b.Item1) < 1e-6 && a.Item2 == b.Item2 && a.Item3 == b.Item3;
        public int GetHashCode((float, MatchSource, int) x) => 0;
    }

    [Fact]
    public void A_candidate_scores_bit_identically_wherever_it_sits_in_the_batch()
    {
        var rng = new Random(5);
        const int d = 256, k = 64;
        var data = new float[3 * k * d];
        for (int i = 0; i < data.Length; i++) data[i] = (float)((rng.NextDouble() * 2) - 1);
        var cb = Codebook.Create(3, k, d, data);
        ulong Sid() => cb.Layout.Pack([(uint)rng.Next(k), (uint)rng.Next(k), (uint)rng.Next(k)]);
        ulong[] negatives = [.. Enumerable.Range(0, 30).Select(_ => Sid())], positives = [.. Enumerable.Range(0, 10).Select(_ => Sid())];
        ulong probe = Sid();
        float Alone()
        {
            var rows = new float[d];
            cb.Reconstruct(probe, rows);
            var negRows = new float[negatives.Length * d];
            for (int j = 0; j < negatives.Length; j++) cb.Reconstruct(negatives[j], negRows.AsSpan(j * d, d));
            var posRows = new float[positives.Length * d];
            for (int j = 0; j < positives.Length; j++) cb.Reconstruct(positives[j], posRows.AsSpan(j * d, d));
            var profile = new ProfileRows { NegativeRows = negRows, NegativeSids = negatives, Predicted = 20, RecentNegatives = 10, PositiveRows = posRows, PositiveSids = positives };
            var score = new float[1];
            ProfileScoring.Score(rows, [probe], d, profile, new ProfileRule(0.5f, 0.8f), score, new int[1], new MatchSource[1], new float[1], new float[1], new int[1]);
            return score[0];
        }
        float alone = Alone();
        for (int position = 0; position < 9; position++)
        {
            var batch = Enumerable.Range(0, 9).Select(_ => Sid()).ToArray();
            batch[position] = probe;
            var rows = new float[batch.Length * d];
            for (int i = 0; i < batch.Length; i++) cb.Reconstruct(batch[i], rows.AsSpan(i * d, d));
            var negRows = new float[negatives.Length * d];
            for (int j = 0; j < negatives.Length; j++) cb.Reconstruct(negatives[j], negRows.AsSpan(j * d, d));
            var posRows = new float[positives.Length * d];
            for (int j = 0; j < positives.Length; j++) cb.Reconstruct(positives[j], posRows.AsSpan(j * d, d));
            var profile = new ProfileRows { NegativeRows = negRows, NegativeSids = negatives, Predicted = 20, RecentNegatives = 10, PositiveRows = posRows, PositiveSids = positives };
            var score = new float[batch.Length];
            ProfileScoring.Score(rows, batch, d, profile, new ProfileRule(0.5f, 0.8f), score, new int[9], new MatchSource[9], new float[9], new float[9], new int[9]);
            Assert.Equal(BitConverter.SingleToInt32Bits(alone), BitConverter.SingleToInt32Bits(score[position]));
        }
    }

    [Fact]
    public void Guard_weights_are_validated_with_the_field_and_limit_named()
    {
        Assert.Null(ProfileScoring.ValidateGuardWeight(0));
        Assert.Null(ProfileScoring.ValidateGuardWeight(2));
        Assert.Contains("'guard_weight' = 2.5 must be a finite number in [0, 2]", ProfileScoring.ValidateGuardWeight(2.5));
        Assert.NotNull(ProfileScoring.ValidateGuardWeight(-0.1));
        Assert.NotNull(ProfileScoring.ValidateGuardWeight(double.NaN));
    }
}

public class RecentSidsTests
{
    [Fact]
    public void Takes_the_newest_distinct_catalog_sids_up_to_the_limit()
    {
        var catalog = new Dictionary<string, ulong> { ["a"] = 1, ["b"] = 2, ["c"] = 2, ["d"] = 4, ["e"] = 5 };
        // newest first: "x" is unknown, "c" shares b's SID
        Assert.Equal([4UL, 2UL, 1UL], RecentSids.Take(["d", "x", "b", "c", "a", "e"], catalog, 3));
        Assert.Equal([4UL, 2UL, 1UL, 5UL], RecentSids.Take(["d", "x", "b", "c", "a", "e"], catalog, 10));
        Assert.Empty(RecentSids.Take(["d"], catalog, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RecentSids.Take([], catalog, 256));
    }
}
