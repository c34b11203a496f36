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
[BindServiceMethod(typeof(NegativeFilter), nameof(NegativeFilter.BindServiceStrict))]
public sealed class NegativeFilterService(FilterEngine engine, ServingState state, FeedbackStore feedback, ConcurrencyGate gate, IOptions<FilterOptions> options,
    FilterMetrics metrics)
    : NegativeFilter.NegativeFilterBase
{
    public override async Task<FilterCandidatesResponse> FilterCandidates(FilterCandidatesRequest request, ServerCallContext context)
    {
        if (!gate.TryEnter())
        {
            metrics.Overloaded();
            throw new RpcException(new Status(StatusCode.ResourceExhausted,
                $"overloaded: {gate.Limit} calls in flight; keep every candidate (fail open) and retry later"));
        }
        try { return await FilterCandidatesCore(request, context); }
        finally { gate.Exit(); }
    }

    private async Task<FilterCandidatesResponse> FilterCandidatesCore(FilterCandidatesRequest request, ServerCallContext context)
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
                GuardWeight = scene.GuardWeight,
                PredictedWeight = scene.PredictedWeight,
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
                    MatchSource = (V1.MatchSource)d.Source,
                    PositiveScore = d.Reason == DecisionReason.Scored ? d.PositiveScore : 0f,
                });
                counts[((int)d.Reason * 2) + (d.Rejected ? 1 : 0)]++;
                if (d.WouldReject) rejected++;
            }
            if (request.Scene == TransportWarmUp.Scene) { metrics.WarmUpCall(); return response; } // dashboards count real traffic only
            for (int k = 0; k < counts.Length; k++)
                if (counts[k] > 0) metrics.Decision((DecisionReason)(k / 2), scene.Mode, k % 2 == 1, counts[k]);
            if (n > 0) metrics.Ratio(scene.Mode, (double)rejected / n);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            metrics.Request(seconds, valid: true);
            metrics.Recent.Record(request.Scene.Length == 0 ? SceneStore.DefaultScene : request.Scene, seconds, n, rejected, counts);
            return response;
        }
        finally
        {
            ArrayPool<FilterDecision>.Shared.Return(decisions);
        }
    }

    public override async Task<RecordFeedbackResponse> RecordFeedback(RecordFeedbackRequest request, ServerCallContext context)
    {
        var snapshot = state.Current;
        var now = DateTimeOffset.UtcNow;
        string kind = request.Kind == V1.FeedbackKind.Positive ? "positive" : "negative";
        var error = Validate(request, snapshot.Generation?.Codebook, options.Value, now);
        if (error is not null)
        {
            metrics.FeedbackCall(kind, "invalid");
            throw new RpcException(new Status(StatusCode.InvalidArgument, error));
        }
        var generation = snapshot.Generation;
        if (generation is null)
        {
            metrics.FeedbackCall(kind, "no_generation");
            throw new RpcException(new Status(snapshot.StoreReachable ? StatusCode.FailedPrecondition : StatusCode.Unavailable,
                snapshot.StoreReachable ? "no generation is active: an item's SID needs the active codebook; nothing was recorded"
                                        : "store unavailable; nothing was recorded; retry"));
        }
        using var deadline = DeadlineSource(context);
        var token = deadline?.Token ?? context.CancellationToken;
        var (status, sid) = await engine.ResolveItemAsync(generation, request.Item, token);
        if (status == ItemResolution.Unavailable)
        {
            metrics.FeedbackCall(kind, "store_unavailable");
            throw new RpcException(new Status(StatusCode.Unavailable, "store unavailable; nothing was recorded; retry"));
        }
        if (status == ItemResolution.Unknown)
        {
            metrics.FeedbackCall(kind, "unknown_item");
            throw new RpcException(new Status(StatusCode.NotFound,
                $"item.item_id '{Excerpt(request.Item.ItemId)}' is not in generation {generation.Id}'s catalog, and the codebook has no encoder for an embedding; send item.sid or item.embedding"));
        }
        var at = request.TimestampMs == 0 ? now : DateTimeOffset.FromUnixTimeMilliseconds(request.TimestampMs);
        try
        {
            await feedback.RecordAsync(request.UserId, request.Kind == V1.FeedbackKind.Positive ? Store.FeedbackKind.Positive : Store.FeedbackKind.Negative,
                request.Item.ItemId, sid, generation.Meta.CodebookHash, at).WaitAsync(options.Value.FeedbackTimeout, token);
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e))
        {
            metrics.FeedbackCall(kind, "store_unavailable");
            throw new RpcException(new Status(StatusCode.Unavailable, "store unavailable; nothing was recorded; retry"));
        }
        metrics.FeedbackCall(kind, "recorded");
        var response = new RecordFeedbackResponse { Generation = generation.Id, Superseded = at <= generation.Meta.EffectiveAsOf };
        var codes = new uint[generation.Codebook.Levels];
        generation.Codebook.Layout.Unpack(sid, codes);
        response.Sid.AddRange(codes);
        return response;
    }

    /// <summary>A bounded excerpt of a client string for error messages (grpc-message must stay small).</summary>
    private static string Excerpt(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");

    private static CancellationTokenSource? DeadlineSource(ServerCallContext context)
    {
        if (context.Deadline == DateTime.MaxValue) return null;
        var budget = DeadlineBudget.ForStore(context.Deadline - DateTime.UtcNow);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        if (budget <= TimeSpan.Zero) cts.Cancel(); else cts.CancelAfter(budget);
        return cts;
    }

    /// <summary>
    /// Null when valid; otherwise a message that names the field and the limit. <paramref name="codebook"/> is the active
    /// generation's (null without one): it gives the SID layout and the encoder's input dimension.
    /// </summary>
    public static string? Validate(FilterCandidatesRequest request, Codebook? codebook, FilterOptions options)
    {
        if (ValidateUser(request.UserId, options) is { } userError) return userError;
        if (request.Scene.Length > 0 && SceneStore.ValidateName(request.Scene) is { } sceneError) return sceneError;
        if (request.Candidates.Count > options.MaxCandidates)
            return $"candidates has {request.Candidates.Count} entries; the maximum is {options.MaxCandidates}";
        for (int i = 0; i < request.Candidates.Count; i++)
        {
            if (ValidateCandidate(request.Candidates[i], null, i, codebook, options) is { } error) return error;
        }
        return null;
    }

    /// <summary>RecordFeedback's rules: the same user and item rules as FilterCandidates, plus kind and time.</summary>
    public static string? Validate(RecordFeedbackRequest request, Codebook? codebook, FilterOptions options, DateTimeOffset now)
    {
        if (ValidateUser(request.UserId, options) is { } userError) return userError;
        if (request.Item is null) return "item is required (item_id, and optionally sid or embedding)";
        if (ValidateCandidate(request.Item, "item", 0, codebook, options) is { } itemError) return itemError;
        if (request.Kind is not (V1.FeedbackKind.Negative or V1.FeedbackKind.Positive)) return $"kind = {(int)request.Kind} must be NEGATIVE (1) or POSITIVE (2)";
        if (request.TimestampMs < 0) return $"timestamp_ms = {request.TimestampMs} must be >= 0 (0 means now)";
        if (request.TimestampMs > (now + MaxFeedbackClockSkew).ToUnixTimeMilliseconds())
            return $"timestamp_ms = {request.TimestampMs} is more than {MaxFeedbackClockSkew.TotalMinutes:0} minutes in the future";
        return null;
    }

    /// <summary>How far ahead of the server's clock a feedback timestamp may be (client clocks drift).</summary>
    public static readonly TimeSpan MaxFeedbackClockSkew = TimeSpan.FromMinutes(5);

    private static string? ValidateUser(string userId, FilterOptions options)
    {
        if (userId.Length == 0) return "user_id must not be empty";
        if (Encoding.UTF8.GetByteCount(userId) > options.MaxIdBytes) return $"user_id is longer than {options.MaxIdBytes} bytes";
        return null;
    }

    /// <summary>One item's rules; the field is <paramref name="name"/> or, when null, candidates[<paramref name="i"/>] (built only on error).</summary>
    private static string? ValidateCandidate(Candidate c, string? name, int i, Codebook? codebook, FilterOptions options)
    {
        SidLayout? layout = codebook?.Layout;
        string Field() => name ?? $"candidates[{i}]";
        if (c.ItemId.Length == 0) return $"{Field()}.item_id must not be empty";
        // A UTF-16 char is at most 3 UTF-8 bytes: short ids skip the byte count, long ones are measured.
        if (c.ItemId.Length * 3 > options.MaxIdBytes && Encoding.UTF8.GetByteCount(c.ItemId) > options.MaxIdBytes)
            return $"{Field()}.item_id is longer than {options.MaxIdBytes} bytes";
        if (c.Embedding.Count > 0 && ValidateEmbedding(c, Field(), codebook?.Encoder) is { } embeddingError) return embeddingError;
        if (c.Sid.Count == 0 || layout is not { } l) return null; // without a generation the layout is unknown: fail open later
        if (c.Sid.Count != l.Levels)
            return $"{Field()}.sid has {c.Sid.Count} codes; expected {l.Levels} (one per codebook level)";
        for (int k = 0; k < c.Sid.Count; k++)
        {
            if (c.Sid[k] >= (uint)l.CodesPerLevel)
                return $"{Field()}.sid[{k}] = {c.Sid[k]} is out of range; codes must be < {l.CodesPerLevel}";
        }
        return null;
    }

    private static string? ValidateEmbedding(Candidate c, string field, CodebookEncoder? encoder)
    {
        if (c.Sid.Count > 0) return $"{field} sets both sid and embedding; set only one (embedding is for items without a SID)";
        // Without an encoder the candidate fails open later; the length is still bounded by the encoder format's limit.
        int expected = encoder?.InputDimension ?? -1;
        if (encoder is not null && c.Embedding.Count != expected)
            return $"{field}.embedding has {c.Embedding.Count} values; the codebook encoder expects {expected}";
        if (c.Embedding.Count > CodebookEncoder.MaxInputDimension)
            return $"{field}.embedding has {c.Embedding.Count} values; the maximum is {CodebookEncoder.MaxInputDimension}";
        for (int k = 0; k < c.Embedding.Count; k++)
        {
            if (!float.IsFinite(c.Embedding[k])) return $"{field}.embedding[{k}] = {c.Embedding[k]} is not finite";
        }
        return null;
    }
}
