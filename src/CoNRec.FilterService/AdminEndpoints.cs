using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.V1;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CoNRec.FilterService;

/// <summary>
/// Admin HTTP API on its own port: read and change per-scene thresholds and modes, and tune a threshold from
/// labelled samples. Changes go to Redis (persisted, audited, announced), never just to this replica's memory.
/// </summary>
public static class AdminEndpoints
{
    public const int MaxTuneSamples = 100_000;

    public static void MapAdmin(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin/v1").AddEndpointFilter<BearerTokenFilter>();
        admin.MapGet("/thresholds", GetThresholds);
        admin.MapPut("/thresholds/{scene}", PutThreshold);
        admin.MapPost("/thresholds/{scene}/tune", Tune);
        admin.MapGet("/audit", GetAudit);
        admin.MapGet("/generations", GetGenerations);
    }

    private static IResult GetThresholds(ServingState state)
    {
        var snapshot = state.Current;
        var scenes = snapshot.Scenes.ToDictionary(kv => kv.Key, kv => SceneJson(kv.Value.Settings, kv.Value.Updated, kv.Value.UpdatedBy));
        if (!scenes.ContainsKey(SceneStore.DefaultScene)) scenes[SceneStore.DefaultScene] = SceneJson(state.ConfiguredDefault, null, "configuration");
        return Results.Json(new { scenes, generation = snapshot.Generation?.Id, store_reachable = snapshot.StoreReachable });
    }

    private static object SceneJson(SceneSettings s, DateTimeOffset? updated, string? by) =>
        new { threshold = s.Threshold, mode = SceneSettings.ModeName(s.Mode), guard_weight = s.GuardWeight, predicted_weight = s.PredictedWeight, updated, updated_by = by };

    private static async Task<IResult> PutThreshold(string scene, HttpRequest request, SceneStore store, ServingState state)
    {
        if (SceneStore.ValidateName(scene) is { } nameError) return Problem(400, nameError);
        using var body = await ReadJsonAsync(request);
        if (body.Error is not null) return Problem(body.Status, body.Error);
        var root = body.Document!.RootElement;
        if (!root.TryGetProperty("threshold", out var t) || t.ValueKind != JsonValueKind.Number || !t.TryGetDouble(out var threshold))
            return Problem(400, "'threshold' is required and must be a number in [-1, 1]");
        if (SceneSettings.Validate(threshold) is { } thresholdError) return Problem(400, thresholdError);
        var current = state.SceneFor(state.Current, scene);
        var mode = current.Mode;
        if (root.TryGetProperty("mode", out var m))
        {
            if (m.ValueKind != JsonValueKind.String || SceneSettings.ParseMode(m.GetString()) is not { } parsed)
                return Problem(400, "'mode' must be one of \"enforce\", \"shadow\", \"off\"");
            mode = parsed;
        }
        if (ReadWeight(root, "guard_weight", current.GuardWeight, ProfileScoring.ValidateGuardWeight, out float guard) is { } guardError) return Problem(400, guardError);
        if (ReadWeight(root, "predicted_weight", current.PredictedWeight, ProfileScoring.ValidatePredictedWeight, out float predicted) is { } predictedError) return Problem(400, predictedError);
        try
        {
            var record = await store.SetAsync(scene, new SceneSettings((float)threshold, mode, guard, predicted), Actor(request), "put");
            await state.RefreshAsync(request.HttpContext.RequestAborted);
            return Results.Json(new { scene, threshold = record.Settings.Threshold, mode = SceneSettings.ModeName(record.Settings.Mode),
                                      guard_weight = record.Settings.GuardWeight, predicted_weight = record.Settings.PredictedWeight, updated = record.Updated });
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the change was not applied"); }
    }

    private static async Task<IResult> GetAudit(HttpRequest request, SceneStore store, int? count)
    {
        if (count is < 1 or > 10_000) return Problem(400, "'count' must be in [1, 10000]");
        try { return Results.Json(new { entries = await store.GetAuditAsync(count ?? 100) }); }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the audit log could not be read"); }
    }

    private static async Task<IResult> GetGenerations(HttpRequest request, GenerationRegistry registry)
    {
        try
        {
            return Results.Json(new { active = await registry.GetActiveIdAsync(), generations = await registry.ListAsync() });
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the generations could not be read"); }
    }

    private sealed record Sample(string UserId, string ItemId, uint[]? Sid, bool Disliked);

    private static async Task<IResult> Tune(string scene, HttpRequest request, ServingState state, FilterEngine engine, SceneStore store,
        AdminStoreReader adminReader, IOptions<FilterOptions> filterOptions)
    {
        if (SceneStore.ValidateName(scene) is { } nameError) return Problem(400, nameError);
        using var body = await ReadJsonAsync(request);
        if (body.Error is not null) return Problem(body.Status, body.Error);
        var root = body.Document!.RootElement;

        if (!root.TryGetProperty("objective", out var objectiveJson) || objectiveJson.ValueKind != JsonValueKind.Object)
            return Problem(400, "'objective' is required: {\"max_false_reject_rate\": r} or {\"min_precision\": p}");
        TuningObjective objective;
        bool hasFr = objectiveJson.TryGetProperty("max_false_reject_rate", out var fr), hasPr = objectiveJson.TryGetProperty("min_precision", out var pr);
        if (hasFr == hasPr) return Problem(400, "'objective' must have exactly one of 'max_false_reject_rate' or 'min_precision'");
        var objectiveValue = hasFr ? fr : pr;
        string objectiveName = hasFr ? "max_false_reject_rate" : "min_precision";
        if (objectiveValue.ValueKind != JsonValueKind.Number || !objectiveValue.TryGetDouble(out var ov) || ov is < 0 or > 1)
            return Problem(400, $"'objective.{objectiveName}' must be a number in [0, 1]");
        objective = hasFr ? new TuningObjective.MaxFalseRejectRate(ov) : new TuningObjective.MinPrecision(ov);

        bool apply = false;
        if (root.TryGetProperty("apply", out var applyJson))
        {
            if (applyJson.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) return Problem(400, "'apply' must be true or false");
            apply = applyJson.GetBoolean();
        }

        if (!root.TryGetProperty("samples", out var samplesJson) || samplesJson.ValueKind != JsonValueKind.Array)
            return Problem(400, "'samples' is required and must be an array");
        int count = samplesJson.GetArrayLength();
        if (count == 0 || count > MaxTuneSamples) return Problem(400, $"'samples' has {count} entries; it must have 1 to {MaxTuneSamples}");
        var snapshot = state.Current;
        var layout = snapshot.Generation?.Codebook.Layout;
        var samples = new List<Sample>(count);
        int idx = 0;
        foreach (var s in samplesJson.EnumerateArray())
        {
            var parsed = ParseSample(s, idx, layout, filterOptions.Value.MaxIdBytes, out var sampleError);
            if (sampleError is not null) return Problem(400, sampleError);
            samples.Add(parsed!);
            idx++;
        }

        if (snapshot.Generation is null) return Problem(409, "no generation is active; load and publish one before tuning");
        var sceneNow = state.SceneFor(snapshot, scene);
        if (ReadWeight(root, "guard_weight", sceneNow.GuardWeight, ProfileScoring.ValidateGuardWeight, out float guard) is { } guardError) return Problem(400, guardError);
        if (ReadWeight(root, "predicted_weight", sceneNow.PredictedWeight, ProfileScoring.ValidatePredictedWeight, out float predicted) is { } predictedError) return Problem(400, predictedError);
        // Score with the scene's actual mode ignored: tuning needs raw scores even for a scene that is off. The rule's
        // weights are the scene's (or the ones asked for): the curve is the served rule's.
        var scoring = new SceneSettings(1f, FilterMode.Shadow, guard, predicted);
        var labelled = new List<LabelledScore>(count);
        var skipped = new Dictionary<string, int> { ["no_predictions"] = 0, ["unknown_item"] = 0, ["store_unavailable"] = 0 };
        foreach (var group in samples.GroupBy(s => s.UserId, StringComparer.Ordinal))
        {
            var list = group.ToList();
            var candidates = list.Select(s => new Candidate { ItemId = s.ItemId, Sid = { s.Sid ?? [] } }).ToList();
            var decisions = new FilterDecision[candidates.Count];
            await engine.EvaluateAsync(snapshot, group.Key, scoring, candidates, decisions, request.HttpContext.RequestAborted, adminReader.Reader);
            for (int i = 0; i < decisions.Length; i++)
            {
                switch (decisions[i].Reason)
                {
                    case DecisionReason.Scored: labelled.Add(new LabelledScore(decisions[i].Score, list[i].Disliked)); break;
                    case DecisionReason.NoPredictions: skipped["no_predictions"]++; break;
                    case DecisionReason.UnknownItem: skipped["unknown_item"]++; break;
                    default: skipped["store_unavailable"]++; break;
                }
            }
        }
        // Only a store that answered nothing fails the call: a few slow reads among many are skipped samples, counted.
        if (skipped["store_unavailable"] == count) return Problem(503, "store unavailable; no sample could be scored");

        var result = ThresholdTuner.Tune(labelled, objective);
        bool applied = false;
        if (apply && result.Recommended is { } rec)
        {
            var mode = sceneNow.Mode;
            try
            {
                await store.SetAsync(scene, new SceneSettings(rec.Threshold, mode, guard, predicted), Actor(request), "tune");
                await state.RefreshAsync(request.HttpContext.RequestAborted);
                applied = true;
            }
            catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the recommended threshold was not applied"); }
        }
        var payload = new
        {
            scene,
            generation = snapshot.Generation.Id,
            samples = count,
            scored = labelled.Count,
            skipped,
            disliked = result.Disliked,
            liked = result.Liked,
            objective = new Dictionary<string, double> { [objectiveName] = ov },
            guard_weight = guard,
            predicted_weight = predicted,
            current_threshold = sceneNow.Threshold,
            curve = result.Curve.Select(CurveJson),
            recommended = result.Recommended is { } r ? CurveJson(r) : null,
            problem = result.Problem,
            applied,
        };
        return Results.Json(payload, statusCode: result.Recommended is null && apply ? 422 : 200);
    }

    /// <summary>An optional weight of the profile rule (absent means <paramref name="fallback"/>), validated by <paramref name="validate"/>.</summary>
    private static string? ReadWeight(JsonElement root, string field, float fallback, Func<double, string?> validate, out float weight)
    {
        weight = fallback;
        if (!root.TryGetProperty(field, out var g)) return null;
        if (g.ValueKind != JsonValueKind.Number || !g.TryGetDouble(out var value)) return validate(double.NaN)!.Replace(" = NaN", "", StringComparison.Ordinal);
        if (validate(value) is { } error) return error;
        weight = (float)value;
        return null;
    }

    private static object CurveJson(CurvePoint p) => new
    {
        threshold = p.Threshold,
        disliked_reject_rate = p.DislikedRejectRate,
        liked_reject_rate = p.LikedRejectRate,
        precision = p.Precision,
        rejected = p.Rejected,
    };

    private static Sample? ParseSample(JsonElement s, int i, SidLayout? layout, int maxIdBytes, out string? error)
    {
        error = null;
        string at = $"samples[{i}]";
        if (s.ValueKind != JsonValueKind.Object) { error = $"'{at}' must be an object"; return null; }
        string? Str(string field, ref string? problem)
        {
            if (!s.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 } str)
            { problem ??= $"'{at}.{field}' is required and must be a non-empty string"; return null; }
            if (Encoding.UTF8.GetByteCount(str) > maxIdBytes) { problem ??= $"'{at}.{field}' is longer than {maxIdBytes} bytes"; return null; }
            return str;
        }
        string? problem = null;
        var user = Str("user_id", ref problem);
        var item = Str("item_id", ref problem);
        if (problem is not null) { error = problem; return null; }
        if (!s.TryGetProperty("disliked", out var d) || d.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        { error = $"'{at}.disliked' is required and must be true or false"; return null; }
        uint[]? sid = null;
        if (s.TryGetProperty("sid", out var sidJson) && sidJson.ValueKind != JsonValueKind.Null)
        {
            if (sidJson.ValueKind != JsonValueKind.Array) { error = $"'{at}.sid' must be an array of codes"; return null; }
            var codes = new List<uint>();
            foreach (var c in sidJson.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.Number || !c.TryGetUInt32(out var code)) { error = $"'{at}.sid[{codes.Count}]' must be a non-negative integer"; return null; }
                codes.Add(code);
                if (codes.Count > SidLayout.MaxLevels) { error = $"'{at}.sid' has more than {SidLayout.MaxLevels} codes"; return null; }
            }
            if (layout is { } l && l.Validate(codes.ToArray(), $"{at}.sid") is { } sidError) { error = sidError; return null; }
            sid = [.. codes];
        }
        return new Sample(user!, item!, sid, d.GetBoolean());
    }

    private static string Actor(HttpRequest request) =>
        $"{request.HttpContext.Connection.RemoteIpAddress}{(request.Headers.UserAgent.Count > 0 ? " " + request.Headers.UserAgent : "")}";

    private static IResult Problem(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    /// <summary>503 with a short reason for the caller; the client library's details (endpoints, versions, pool counts) go to the log only.</summary>
    private static IResult StoreDown(HttpRequest request, Exception e, string consequence)
    {
        request.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("CoNRec.FilterService.Admin")
            .LogWarning("Admin {Method} {Path}: store unavailable ({Message})", request.Method, request.Path.Value, e.Message);
        return Problem(503, $"store unavailable; {consequence}; retry");
    }

    private sealed class JsonBody(JsonDocument? document, string? error, int status = 400) : IDisposable
    {
        public JsonDocument? Document { get; } = document;
        public string? Error { get; } = error;
        public int Status { get; } = status;
        public void Dispose() => Document?.Dispose();
    }

    /// <summary>The largest admin request body; Kestrel enforces it (chunked bodies too), and JSON parsing checks it again.</summary>
    public const long MaxBodyBytes = 32L << 20;

    /// <summary>
    /// Reads the body (at most <see cref="MaxBodyBytes"/>, counted as it arrives, so a chunked body without a length is
    /// bounded too), checks it is UTF-8 (System.Text.Json would otherwise fail later, on the first invalid string it is
    /// asked for), and parses it. Every failure is a message for a 400 or 413, never an exception.
    /// </summary>
    private static async Task<JsonBody> ReadJsonAsync(HttpRequest request)
    {
        if (request.ContentLength > MaxBodyBytes) return new JsonBody(null, $"request body exceeds {MaxBodyBytes} bytes", 413);
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[64 * 1024];
            int n;
            while ((n = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
            {
                if (buffer.Length + n > MaxBodyBytes) return new JsonBody(null, $"request body exceeds {MaxBodyBytes} bytes", 413);
                buffer.Write(chunk, 0, n);
            }
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e) { return new JsonBody(null, e.StatusCode == 413 ? $"request body exceeds {MaxBodyBytes} bytes" : "request body could not be read", e.StatusCode); }
        if (!System.Text.Unicode.Utf8.IsValid(body)) return new JsonBody(null, "request body is not valid UTF-8");
        try
        {
            var doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind == JsonValueKind.Object) return new JsonBody(doc, null);
            doc.Dispose();
            return new JsonBody(null, "request body must be a JSON object");
        }
        catch (JsonException e) { return new JsonBody(null, $"request body is not valid JSON ({e.Message})"); }
    }
}

/// <summary>Bearer-token check with a constant-time comparison. Without a configured token (loopback only) admin is open.</summary>
public sealed class BearerTokenFilter(IOptions<AdminOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var token = options.Value.Token;
        if (string.IsNullOrEmpty(token)) return await next(context);
        string header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        bool ok = header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) &&
                  CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[prefix.Length..].Trim()), Encoding.UTF8.GetBytes(token));
        if (!ok)
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new { error = "missing or invalid bearer token" }, statusCode: 401);
        }
        return await next(context);
    }
}
