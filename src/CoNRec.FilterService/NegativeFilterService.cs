using System.Buffers;
using System.Diagnostics;
using System.Text;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.V1;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace CoNRec.FilterService;

/// <summary>conrec.v1.NegativeFilter: validation and mapping only; the work is in <see cref="FilterEngine"/>.</summary>
public sealed class NegativeFilterService(FilterEngine engine, ServingState state, IOptions<FilterOptions> options, FilterMetrics metrics)
    : NegativeFilter.NegativeFilterBase
{
    public override async Task<FilterCandidatesResponse> FilterCandidates(FilterCandidatesRequest request, ServerCallContext context)
    {
        long start = Stopwatch.GetTimestamp();
        var snapshot = state.Current;
        var error = Validate(request, snapshot.Generation?.Codebook, options.Value);
        if (error is not null)
        {
            metrics.Request(Stopwatch.GetElapsedTime(start).TotalSeconds, valid: false);
            throw new RpcException(new Status(StatusCode.InvalidArgument, error));
        }

        var scene = state.SceneFor(snapshot, request.Scene.Length == 0 ? SceneStore.DefaultScene : request.Scene);
        int n = request.Candidates.Count;
        var decisions = ArrayPool<FilterDecision>.Shared.Rent(Math.Max(n, 1));
        // Answer inside the caller's deadline even if it is tighter than the store's own timeout.
        using var deadline = DeadlineSource(context);
        try
        {
            await engine.EvaluateAsync(snapshot, request.UserId, scene, request.Candidates, decisions, deadline?.Token ?? context.CancellationToken);
            var response = new FilterCandidatesResponse
            {
                Generation = snapshot.Generation?.Id ?? "",
                Threshold = scene.Threshold,
                Mode = (Mode)scene.Mode,
            };
            response.Decisions.Capacity = n;
            int rejected = 0;
            Span<int> counts = stackalloc int[12]; // (reason 0..5) x (rejected 0/1): one counter update per kind, not per candidate
            for (int i = 0; i < n; i++)
            {
                var d = decisions[i];
                response.Decisions.Add(new Decision
                {
                    ItemId = request.Candidates[i].ItemId,
                    Rejected = d.Rejected,
                    WouldReject = d.WouldReject,
                    Score = d.Reason == DecisionReason.Scored ? d.Score : 0f,
                    MatchedIndex = d.MatchedIndex,
                    Reason = (Reason)d.Reason,
                });
                counts[((int)d.Reason * 2) + (d.Rejected ? 1 : 0)]++;
                if (d.WouldReject) rejected++;
            }
            for (int k = 0; k < counts.Length; k++)
                if (counts[k] > 0) metrics.Decision((DecisionReason)(k / 2), scene.Mode, k % 2 == 1, counts[k]);
            if (n > 0) metrics.Ratio(scene.Mode, (double)rejected / n);
            metrics.Request(Stopwatch.GetElapsedTime(start).TotalSeconds, valid: true);
            return response;
        }
        finally
        {
            ArrayPool<FilterDecision>.Shared.Return(decisions);
        }
    }

    private static CancellationTokenSource? DeadlineSource(ServerCallContext context)
    {
        if (context.Deadline == DateTime.MaxValue) return null;
        var remaining = context.Deadline - DateTime.UtcNow;
        // Keep a slice of the deadline for building and sending the response.
        var budget = TimeSpan.FromTicks(Math.Max(remaining.Ticks * 3 / 4, TimeSpan.FromMilliseconds(1).Ticks));
        var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        cts.CancelAfter(budget);
        return cts;
    }

    /// <summary>
    /// Null when valid; otherwise a message that names the field and the limit. <paramref name="codebook"/> is the active
    /// generation's (null without one): it gives the SID layout and the encoder's input dimension.
    /// </summary>
    public static string? Validate(FilterCandidatesRequest request, Codebook? codebook, FilterOptions options)
    {
        SidLayout? layout = codebook?.Layout;
        if (request.UserId.Length == 0) return "user_id must not be empty";
        if (Encoding.UTF8.GetByteCount(request.UserId) > options.MaxIdBytes) return $"user_id is longer than {options.MaxIdBytes} bytes";
        if (request.Scene.Length > 0 && SceneStore.ValidateName(request.Scene) is { } sceneError) return sceneError;
        if (request.Candidates.Count > options.MaxCandidates)
            return $"candidates has {request.Candidates.Count} entries; the maximum is {options.MaxCandidates}";
        for (int i = 0; i < request.Candidates.Count; i++)
        {
            var c = request.Candidates[i];
            if (c.ItemId.Length == 0) return $"candidates[{i}].item_id must not be empty";
            // A UTF-16 char is at most 3 UTF-8 bytes: short ids skip the byte count, long ones are measured.
            if (c.ItemId.Length * 3 > options.MaxIdBytes && Encoding.UTF8.GetByteCount(c.ItemId) > options.MaxIdBytes)
                return $"candidates[{i}].item_id is longer than {options.MaxIdBytes} bytes";
            if (c.Embedding.Count > 0 && ValidateEmbedding(c, i, codebook?.Encoder) is { } embeddingError) return embeddingError;
            if (c.Sid.Count == 0 || layout is not { } l) continue; // without a generation the layout is unknown: fail open later
            if (c.Sid.Count != l.Levels)
                return $"candidates[{i}].sid has {c.Sid.Count} codes; expected {l.Levels} (one per codebook level)";
            for (int k = 0; k < c.Sid.Count; k++)
            {
                if (c.Sid[k] >= (uint)l.CodesPerLevel)
                    return $"candidates[{i}].sid[{k}] = {c.Sid[k]} is out of range; codes must be < {l.CodesPerLevel}";
            }
        }
        return null;
    }

    private static string? ValidateEmbedding(Candidate c, int i, CodebookEncoder? encoder)
    {
        if (c.Sid.Count > 0) return $"candidates[{i}] sets both sid and embedding; set only one (embedding is for items without a SID)";
        // Without an encoder the candidate fails open later; the length is still bounded by the encoder format's limit.
        int expected = encoder?.InputDimension ?? -1;
        if (encoder is not null && c.Embedding.Count != expected)
            return $"candidates[{i}].embedding has {c.Embedding.Count} values; the codebook encoder expects {expected}";
        if (c.Embedding.Count > CodebookEncoder.MaxInputDimension)
            return $"candidates[{i}].embedding has {c.Embedding.Count} values; the maximum is {CodebookEncoder.MaxInputDimension}";
        for (int k = 0; k < c.Embedding.Count; k++)
        {
            if (!float.IsFinite(c.Embedding[k])) return $"candidates[{i}].embedding[{k}] = {c.Embedding[k]} is not finite";
        }
        return null;
    }
}
