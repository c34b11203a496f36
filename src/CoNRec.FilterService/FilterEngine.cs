using System.Buffers;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.V1;
using StackExchange.Redis;

namespace CoNRec.FilterService;

/// <summary>
/// One FilterCandidates evaluation, independent of gRPC so the admin tuner scores samples the same way.
/// The user's predictions and the catalog misses are fetched concurrently (one round trip each, pipelined); every
/// failure degrades to a fail-open decision with its reason.
/// </summary>
public sealed class FilterEngine(ResilientReader reader, ILogger<FilterEngine> log)
{
    private const byte Known = 0, UnknownItem = 1, Pending = 2, Unavailable = 3;

    public async Task EvaluateAsync(ServingSnapshot snapshot, string userId, SceneSettings scene,
        IReadOnlyList<Candidate> candidates, FilterDecision[] output, CancellationToken cancellationToken)
    {
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

            var userTask = reader.HashGetAsync(generation.UserKey(userId), userId, cancellationToken);
            var catalogTask = misses > 0
                ? reader.HashGetManyAsync(missKeys!, missFields!, missValues!, misses, cancellationToken)
                : ValueTask.FromResult(true);
            var (userOk, userValue) = await userTask;
            bool catalogOk = await catalogTask;

            if (!userOk) { Fill(output, n, DecisionReason.StoreUnavailable); return; }
            if (userValue.IsNull) { Fill(output, n, DecisionReason.NoPredictions); return; }

            var predicted = ArrayPool<ulong>.Shared.Rent(SidSetCodec.MaxCount);
            try
            {
                var problem = SidSetCodec.TryDecode((byte[])userValue!, layout, predicted, out int m);
                if (problem is not null)
                {
                    log.LogWarning("Predictions of user {User} in {Generation} are malformed: {Problem}", userId, generation.Id, problem);
                    Fill(output, n, DecisionReason.NoPredictions);
                    return;
                }
                if (m == 0) { Fill(output, n, DecisionReason.NoPredictions); return; }

                if (misses > 0) ResolveMisses(generation, catalogOk, n, misses, missFields!, missValues!, slotOf!, sids, state);
                Score(generation, scene, predicted.AsSpan(0, m), sids.AsSpan(0, n), state.AsSpan(0, n), d, output);
            }
            finally { ArrayPool<ulong>.Shared.Return(predicted); }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(sids);
            ArrayPool<byte>.Shared.Return(state);
            if (embeddingScratch is not null) ArrayPool<float>.Shared.Return(embeddingScratch);
        }
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

    private static void Score(ActiveGeneration generation, SceneSettings scene, ReadOnlySpan<ulong> predicted,
        ReadOnlySpan<ulong> sids, ReadOnlySpan<byte> state, int d, FilterDecision[] output)
    {
        int n = sids.Length, m = predicted.Length;
        int known = 0;
        foreach (var s in state) if (s == Known) known++;
        var cache = generation.Reconstructions;
        var p = ArrayPool<float>.Shared.Rent(m * d);
        var c = ArrayPool<float>.Shared.Rent(Math.Max(known, 1) * d);
        var best = ArrayPool<float>.Shared.Rent(Math.Max(known, 1));
        var arg = ArrayPool<int>.Shared.Rent(Math.Max(known, 1));
        try
        {
            for (int j = 0; j < m; j++) cache.CopyTo(predicted[j], p.AsSpan(j * d, d));
            int row = 0;
            for (int i = 0; i < n; i++)
                if (state[i] == Known) cache.CopyTo(sids[i], c.AsSpan(row++ * d, d));
            Similarity.MaxCosine(c.AsSpan(0, known * d), p.AsSpan(0, m * d), d, best, arg);
            row = 0;
            for (int i = 0; i < n; i++)
            {
                output[i] = state[i] switch
                {
                    Known => FilterRules.Scored(best[row], arg[row++], scene),
                    UnknownItem => FilterRules.FailOpen(DecisionReason.UnknownItem),
                    _ => FilterRules.FailOpen(DecisionReason.StoreUnavailable),
                };
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(p);
            ArrayPool<float>.Shared.Return(c);
            ArrayPool<float>.Shared.Return(best);
            ArrayPool<int>.Shared.Return(arg);
        }
    }

    private static void Fill(FilterDecision[] output, int n, DecisionReason reason)
    {
        var decision = FilterRules.FailOpen(reason);
        output.AsSpan(0, n).Fill(decision);
    }
}
