using System.Buffers;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.V1;
using Google.Protobuf;
using FeedbackKind = CoNRec.Store.FeedbackKind;
using MatchSource = CoNRec.Core.MatchSource;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CoNRec.FilterService;

public enum ItemResolution { Known, Unknown, Unavailable }

/// <summary>
/// One FilterCandidates evaluation, independent of gRPC so the admin tuner scores samples the same way.
/// The user's profile with their feedback overlay (one round trip, one slot) and the catalog misses (one pipelined
/// round trip) are fetched concurrently; every failure degrades to a fail-open decision with its reason. Scores come
/// from <see cref="ProfileScoring"/>, the rule offline evaluation uses too.
/// </summary>
public sealed class FilterEngine(ResilientReader reader, IOptions<StoreOptions> storeOptions, ILogger<FilterEngine> log)
{
    private const byte Known = 0, UnknownItem = 1, Pending = 2, Unavailable = 3;
    private const int MaxOverlay = 255; // StoreOptions.FeedbackMaxEntries' upper bound

    /// <param name="via">The reader to use instead of the hot path's (admin tuning reads with its own, longer budget).</param>
    public async Task EvaluateAsync(ServingSnapshot snapshot, string userId, SceneSettings scene,
        IReadOnlyList<Candidate> candidates, FilterDecision[] output, CancellationToken cancellationToken, ResilientReader? via = null)
    {
        var store = via ?? reader;
        int n = candidates.Count;
        if (scene.Mode == FilterMode.Off) { Fill(output, n, DecisionReason.FilterOff); return; }
        var generation = snapshot.Generation;
        if (generation is null)
        {
            Fill(output, n, snapshot.StoreReachable ? DecisionReason.NoPredictions : DecisionReason.StoreUnavailable);
            return;
        }

        var layout = generation.Codebook.Layout;
        int d = generation.Codebook.Dimension;
        var sids = ArrayPool<ulong>.Shared.Rent(Math.Max(n, 1));
        var state = ArrayPool<byte>.Shared.Rent(Math.Max(n, 1));
        RedisKey[]? missKeys = null;
        RedisValue[]? missFields = null, missValues = null;
        int[]? slotOf = null;                       // candidate index → miss slot (duplicates share one lookup)
        Dictionary<string, int>? missSlots = null;
        int misses = 0;
        float[]? embeddingScratch = null;           // cold-start candidates: [input | latent], rented on first use
        try
        {
            Span<uint> codes = stackalloc uint[SidLayout.MaxLevels];
            for (int i = 0; i < n; i++)
            {
                var c = candidates[i];
                if (c.Sid.Count > 0)
                {
                    for (int l = 0; l < layout.Levels; l++) codes[l] = c.Sid[l];
                    sids[i] = layout.Pack(codes[..layout.Levels]);
                    state[i] = Known;
                }
                else if (c.Embedding.Count > 0)
                {
                    // Validation checked the length against this snapshot's encoder; no encoder means fail open.
                    if (generation.Codebook.Encoder is { } encoder)
                    {
                        sids[i] = EncodeEmbedding(generation.Codebook, encoder, c, codes, ref embeddingScratch);
                        state[i] = Known;
                    }
                    else state[i] = UnknownItem;
                }
                else if (generation.Catalog.TryGet(c.ItemId, out var cached))
                {
                    sids[i] = cached;
                    state[i] = cached == CatalogCache.Unknown ? UnknownItem : Known;
                }
                else
                {
                    if (missKeys is null)
                    {
                        missKeys = new RedisKey[n];
                        missFields = new RedisValue[n];
                        missValues = new RedisValue[n];
                        slotOf = new int[n];
                        missSlots = new Dictionary<string, int>(StringComparer.Ordinal);
                    }
                    if (!missSlots!.TryGetValue(c.ItemId, out int slot))
                    {
                        slot = misses++;
                        missSlots[c.ItemId] = slot;
                        missKeys[slot] = generation.ItemKey(c.ItemId);
                        missFields![slot] = c.ItemId;
                    }
                    slotOf![i] = slot;
                    state[i] = Pending;
                }
            }

            var userTask = store.ReadProfileAsync(generation.UserKey(userId), userId, generation.FeedbackKey(userId),
                generation.Meta.EffectiveAsOf, storeOptions.Value.FeedbackMaxEntries, cancellationToken);
            var catalogTask = misses > 0
                ? store.HashGetManyAsync(missKeys!, missFields!, missValues!, misses, cancellationToken)
                : ValueTask.FromResult(true);
            var (userOk, userValue, overlay) = await userTask;
            bool catalogOk = await catalogTask;

            if (!userOk) { Fill(output, n, DecisionReason.StoreUnavailable); return; }

            // The profile's SIDs, laid out for scoring: negative side [predicted | recent negatives | feedback negatives],
            // positive side [recent positives | feedback positives].
            var profile = ArrayPool<ulong>.Shared.Rent(SidSetCodec.MaxProfileCount + (2 * MaxOverlay));
            try
            {
                var counts = default(ProfileCounts);
                if (!userValue.IsNull)
                {
                    var problem = SidSetCodec.TryDecodeProfile((byte[])userValue!, layout, profile, out counts);
                    if (problem is not null)
                    {
                        log.LogWarning("Profile of user {User} in {Generation} is malformed: {Problem}", userId, generation.Id, problem);
                        counts = default;
                    }
                }
                Span<FeedbackEntry> feedback = stackalloc FeedbackEntry[MaxOverlay];
                int f = overlay.Length == 0 ? 0 : FeedbackStore.Parse(overlay, generation.FeedbackTag, layout, feedback);
                int negativeSide = counts.NegativeSide, positives = counts.Positives;
                // Move the positives behind a gap for the feedback negatives, then append feedback by kind.
                var sidsOut = profile.AsSpan();
                int positiveStart = negativeSide + f;
                sidsOut.Slice(counts.NegativeSide, positives).CopyTo(sidsOut.Slice(positiveStart, positives));
                int negFeedback = 0, posFeedback = 0;
                for (int k = 0; k < f; k++)
                {
                    if (feedback[k].Kind == FeedbackKind.Negative) profile[negativeSide + negFeedback++] = feedback[k].Sid;
                    else profile[positiveStart + positives + posFeedback++] = feedback[k].Sid;
                }
                int negatives = negativeSide + negFeedback;
                if (negatives == 0) { Fill(output, n, DecisionReason.NoPredictions); return; }

                if (misses > 0) ResolveMisses(generation, catalogOk, n, misses, missFields!, missValues!, slotOf!, sids, state);
                Score(generation, scene, profile.AsSpan(0, negatives), counts.Predicted, counts.Negatives,
                    profile.AsSpan(positiveStart, positives + posFeedback), sids.AsSpan(0, n), state.AsSpan(0, n), d, output);
            }
            finally { ArrayPool<ulong>.Shared.Return(profile); }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(sids);
            ArrayPool<byte>.Shared.Return(state);
            if (embeddingScratch is not null) ArrayPool<float>.Shared.Return(embeddingScratch);
        }
    }

    /// <summary>
    /// Runs the request path before the generation serves (and so before the first /readyz of a fresh replica): the
    /// scoring kernel on a synthetic 20 + 10 + 10 profile and 500 candidates, the async read path for a user nobody has,
    /// and protobuf for a full-size request and response. A fresh process otherwise JIT-compiles all of that under its
    /// first real load (measured: ~24% fail-open for 20 s at 1,000 req/s on 2 cores).
    /// </summary>
    public async Task WarmUpAsync(ActiveGeneration generation, IReadOnlyList<ulong> sample, CancellationToken cancellationToken)
    {
        var layout = generation.Codebook.Layout;
        var sids = new ulong[500];
        var rng = new Random(1);
        Span<uint> codes = stackalloc uint[SidLayout.MaxLevels];
        for (int i = 0; i < sids.Length; i++)
        {
            if (sample.Count > 0) sids[i] = sample[i % sample.Count];
            else
            {
                for (int l = 0; l < layout.Levels; l++) codes[l] = (uint)rng.Next(layout.CodesPerLevel);
                sids[i] = layout.Pack(codes[..layout.Levels]);
            }
        }
        var state = new byte[sids.Length]; // all Known
        var output = new FilterDecision[sids.Length];
        var scene = new SceneSettings(0.9f, FilterMode.Shadow, 0.5f, 0.8f);
        for (int round = 0; round < 30; round++)
            Score(generation, scene, sids.AsSpan(0, 30), 20, 10, sids.AsSpan(30, 10), sids, state, generation.Codebook.Dimension, output);

        var request = new FilterCandidatesRequest { UserId = "\u0000warm-up", Scene = "default" };
        for (int i = 0; i < sids.Length; i++)
        {
            var candidate = new Candidate { ItemId = "warm-up-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            layout.Unpack(sids[i], codes);
            for (int l = 0; l < layout.Levels; l++) candidate.Sid.Add(codes[l]);
            request.Candidates.Add(candidate);
        }
        for (int round = 0; round < 3; round++)
        {
            try { await EvaluateAsync(new ServingSnapshot(generation, new Dictionary<string, SceneRecord>(), true, true, DateTimeOffset.UtcNow), request.UserId, scene, request.Candidates, output, cancellationToken); }
            catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { break; } // a store that is down still leaves the CPU paths warm
        }
        var response = new FilterCandidatesResponse { Generation = generation.Id };
        for (int i = 0; i < output.Length; i++) response.Decisions.Add(new Decision { ItemId = request.Candidates[i].ItemId, Score = output[i].Score, Reason = V1.Reason.Scored });
        for (int round = 0; round < 20; round++)
        {
            _ = FilterCandidatesRequest.Parser.ParseFrom(request.ToByteArray());
            _ = FilterCandidatesResponse.Parser.ParseFrom(response.ToByteArray());
        }
    }

    /// <summary>
    /// One item's SID, as a candidate's is found: its sid, its cold-start embedding, the catalog cache, else one catalog read.
    /// </summary>
    public async Task<(ItemResolution Status, ulong Sid)> ResolveItemAsync(ActiveGeneration generation, Candidate item, CancellationToken cancellationToken)
    {
        var layout = generation.Codebook.Layout;
        Span<uint> codes = stackalloc uint[SidLayout.MaxLevels];
        if (item.Sid.Count > 0)
        {
            for (int l = 0; l < layout.Levels; l++) codes[l] = item.Sid[l];
            return (ItemResolution.Known, layout.Pack(codes[..layout.Levels]));
        }
        if (item.Embedding.Count > 0)
        {
            if (generation.Codebook.Encoder is not { } encoder) return (ItemResolution.Unknown, 0);
            float[]? scratch = null;
            try { return (ItemResolution.Known, EncodeEmbedding(generation.Codebook, encoder, item, codes, ref scratch)); }
            finally { if (scratch is not null) ArrayPool<float>.Shared.Return(scratch); }
        }
        if (generation.Catalog.TryGet(item.ItemId, out var cached))
            return cached == CatalogCache.Unknown ? (ItemResolution.Unknown, 0) : (ItemResolution.Known, cached);
        var (ok, value) = await reader.HashGetAsync(generation.ItemKey(item.ItemId), item.ItemId, cancellationToken);
        if (!ok) return (ItemResolution.Unavailable, 0);
        if (value.IsNull) { generation.Catalog.Add(item.ItemId, CatalogCache.Unknown); return (ItemResolution.Unknown, 0); }
        var one = new ulong[1];
        if (SidSetCodec.TryDecode((byte[])value!, layout, one, out int count) is not null || count != 1) return (ItemResolution.Unknown, 0);
        generation.Catalog.Add(item.ItemId, one[0]);
        return (ItemResolution.Known, one[0]);
    }

    /// <summary>Cold-start item: stored RQ-VAE encoder, then residual quantisation, packed like a catalog SID. No allocation.</summary>
    private static ulong EncodeEmbedding(Codebook codebook, CodebookEncoder encoder, Candidate candidate, Span<uint> codes, ref float[]? scratch)
    {
        int inDim = encoder.InputDimension, d = codebook.Dimension;
        scratch ??= ArrayPool<float>.Shared.Rent(inDim + d);
        candidate.Embedding.CopyTo(scratch, 0); // RepeatedField exposes no span; one copy into pooled memory
        var latent = scratch.AsSpan(inDim, d);
        encoder.Encode(scratch.AsSpan(0, inDim), latent);
        codebook.Quantize(latent, codes);
        return codebook.Layout.Pack(codes[..codebook.Levels]);
    }

    private void ResolveMisses(ActiveGeneration generation, bool ok, int n, int misses, RedisValue[] fields, RedisValue[] values, int[] slotOf,
        ulong[] sids, byte[] state)
    {
        // Decode each distinct item once, reusing the fetched arrays: values[slot] becomes the packed SID, fields[slot] the state.
        Span<ulong> one = stackalloc ulong[1];
        var slotSid = ArrayPool<ulong>.Shared.Rent(misses);
        var slotState = ArrayPool<byte>.Shared.Rent(misses);
        try
        {
            for (int k = 0; k < misses; k++)
            {
                if (!ok) { slotState[k] = Unavailable; continue; }
                var value = values[k];
                string itemId = fields[k]!;
                if (value.IsNull)
                {
                    generation.Catalog.Add(itemId, CatalogCache.Unknown);
                    slotState[k] = UnknownItem;
                    continue;
                }
                var problem = SidSetCodec.TryDecode((byte[])value!, generation.Codebook.Layout, one, out int count);
                if (problem is not null || count != 1)
                {
                    log.LogWarning("Catalog entry {Item} in {Generation} is malformed: {Problem}", itemId, generation.Id, problem ?? "expected one SID");
                    slotState[k] = UnknownItem;
                    continue;
                }
                generation.Catalog.Add(itemId, one[0]);
                slotSid[k] = one[0];
                slotState[k] = Known;
            }
            for (int i = 0; i < n; i++)
            {
                if (state[i] != Pending) continue;
                state[i] = slotState[slotOf[i]];
                sids[i] = slotSid[slotOf[i]];
            }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(slotSid);
            ArrayPool<byte>.Shared.Return(slotState);
        }
    }

    private static void Score(ActiveGeneration generation, SceneSettings scene, ReadOnlySpan<ulong> negatives, int predicted, int recentNegatives,
        ReadOnlySpan<ulong> positives, ReadOnlySpan<ulong> sids, ReadOnlySpan<byte> state, int d, FilterDecision[] output)
    {
        int n = sids.Length, mn = negatives.Length, mp = positives.Length;
        int known = 0;
        foreach (var s in state) if (s == Known) known++;
        var cache = generation.Reconstructions;
        int rows = Math.Max(known, 1);
        var neg = ArrayPool<float>.Shared.Rent(mn * d);
        var pos = ArrayPool<float>.Shared.Rent(Math.Max(mp, 1) * d);
        var c = ArrayPool<float>.Shared.Rent(rows * d);
        var knownSids = ArrayPool<ulong>.Shared.Rent(rows);
        var score = ArrayPool<float>.Shared.Rent(rows);
        var positive = ArrayPool<float>.Shared.Rent(rows);
        var scratch = ArrayPool<float>.Shared.Rent(rows);
        var index = ArrayPool<int>.Shared.Rent(rows);
        var scratchIndex = ArrayPool<int>.Shared.Rent(rows);
        var source = ArrayPool<MatchSource>.Shared.Rent(rows);
        try
        {
            for (int j = 0; j < mn; j++) cache.CopyTo(negatives[j], neg.AsSpan(j * d, d));
            for (int j = 0; j < mp; j++) cache.CopyTo(positives[j], pos.AsSpan(j * d, d));
            int row = 0;
            for (int i = 0; i < n; i++)
            {
                if (state[i] != Known) continue;
                knownSids[row] = sids[i];
                cache.CopyTo(sids[i], c.AsSpan(row++ * d, d));
            }
            var profile = new ProfileRows
            {
                NegativeRows = neg.AsSpan(0, mn * d), NegativeSids = negatives, Predicted = predicted, RecentNegatives = recentNegatives,
                PositiveRows = pos.AsSpan(0, mp * d), PositiveSids = positives,
            };
            ProfileScoring.Score(c.AsSpan(0, known * d), knownSids.AsSpan(0, known), d, profile, scene.Rule,
                score, index, source, positive, scratch, scratchIndex);
            row = 0;
            for (int i = 0; i < n; i++)
            {
                output[i] = state[i] switch
                {
                    Known => FilterRules.Scored(score[row], index[row], scene, source[row], positive[row++]),
                    UnknownItem => FilterRules.FailOpen(DecisionReason.UnknownItem),
                    _ => FilterRules.FailOpen(DecisionReason.StoreUnavailable),
                };
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(neg);
            ArrayPool<float>.Shared.Return(pos);
            ArrayPool<float>.Shared.Return(c);
            ArrayPool<ulong>.Shared.Return(knownSids);
            ArrayPool<float>.Shared.Return(score);
            ArrayPool<float>.Shared.Return(positive);
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<int>.Shared.Return(index);
            ArrayPool<int>.Shared.Return(scratchIndex);
            ArrayPool<MatchSource>.Shared.Return(source);
        }
    }

    private static void Fill(FilterDecision[] output, int n, DecisionReason reason)
    {
        var decision = FilterRules.FailOpen(reason);
        output.AsSpan(0, n).Fill(decision);
    }
}
