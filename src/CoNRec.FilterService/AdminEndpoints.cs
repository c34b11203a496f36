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
/// Admin HTTP API on its own port: read and change per-scene thresholds and modes, tune a threshold from labelled
/// samples (sent inline, or a file of the configured sample directory), page the audit log, list and publish (roll back)
/// generations, and this replica's recent traffic for the console's health view. Changes go to Redis (persisted,
/// audited, announced), never just to this replica's memory.
/// </summary>
public static partial class AdminEndpoints
{
    public const int MaxTuneSamples = 100_000;

    public static void MapAdmin(this IEndpointRouteBuilder app)
    {
        // Data never cached by a browser or proxy, never sniffed as something else; the 401 carries the same headers.
        var admin = app.MapGroup("/admin/v1").AddEndpointFilter(static (context, next) =>
        {
            var headers = context.HttpContext.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.CacheControl = "no-store";
            return next(context);
        }).AddEndpointFilter<BearerTokenFilter>();
        admin.MapGet("/thresholds", GetThresholds);
        admin.MapPut("/thresholds/{scene}", PutThreshold);
        admin.MapPost("/thresholds/{scene}/tune", Tune);
        admin.MapGet("/audit", GetAudit);
        admin.MapGet("/generations", GetGenerations);
        admin.MapPost("/generations/{id}/publish", PublishGeneration);
        admin.MapGet("/samples", GetSamples);
        admin.MapGet("/health", GetHealth);
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

    public const int MaxAuditPage = 10_000;

    /// <summary>
    /// A page of the audit log, newest first, optionally of one scene. <c>next</c> (null on the last page) is the cursor
    /// for <c>before</c>: the position and a hash of the page's last entry. New entries are pushed at the head, so the
    /// entry can only have moved further down; the next page finds it again there and continues after it.
    /// </summary>
    private static async Task<IResult> GetAudit(HttpRequest request, IDatabase db, RedisKeys keys)
    {
        var query = request.Query;
        int count = 100;
        if (query.TryGetValue("count", out var countText) && countText.ToString().Length > 0 && (!int.TryParse(countText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxAuditPage))
            return Problem(400, $"'count' = '{Excerpt(countText.ToString())}' must be an integer in [1, {MaxAuditPage}]");
        string? scene = query.TryGetValue("scene", out var sceneText) && sceneText.ToString().Length > 0 ? sceneText.ToString() : null;
        if (scene is not null && SceneStore.ValidateName(scene) is { } sceneError) return Problem(400, sceneError);
        AuditCursor? before = null;
        if (query.TryGetValue("before", out var beforeText))
        {
            before = AuditCursor.Parse(beforeText.ToString());
            if (before is null) return Problem(400, $"'before' = '{Excerpt(beforeText.ToString())}' must be the 'next' cursor of a previous audit page");
        }
        try
        {
            const int chunk = 512;
            long index = 0;
            if (before is { } cursor)
            {
                // Find the cursor's entry at or below its old position; without it the page would skip or repeat entries.
                long found = -1;
                for (long at = cursor.Index; found < 0; at += chunk)
                {
                    var values = await db.ListRangeAsync(keys.Audit, at, at + chunk - 1);
                    if (values.Length == 0) break;
                    for (int i = 0; i < values.Length; i++)
                        if (AuditCursor.HashOf(values[i]) == cursor.Hash) { found = at + i; break; }
                }
                if (found < 0) return Problem(410, "'before' points at an audit entry that has left the log (trimmed); reload the first page");
                index = found + 1;
            }
            var entries = new List<AuditEntry>(Math.Min(count, 1024));
            long lastIndex = -1;
            RedisValue lastRaw = default;
            bool more = false;
            while (!more)
            {
                var values = await db.ListRangeAsync(keys.Audit, index, index + chunk - 1);
                if (values.Length == 0) break;
                for (int i = 0; i < values.Length; i++)
                {
                    if (ParseAudit(values[i]) is not { } entry || (scene is not null && entry.Scene != scene)) continue;
                    if (entries.Count == count) { more = true; break; } // one match past the page: there is a next page
                    entries.Add(entry);
                    (lastIndex, lastRaw) = (index + i, values[i]);
                }
                index += values.Length;
            }
            var next = more ? new AuditCursor(lastIndex, AuditCursor.HashOf(lastRaw)) : null;
            return Results.Json(new AuditPage(entries, next?.ToString()));
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the audit log could not be read"); }
    }

    private static AuditEntry? ParseAudit(RedisValue value)
    {
        // A malformed entry (written by hand, or by a future version) is skipped rather than failing the whole page.
        try { return JsonSerializer.Deserialize<AuditEntry>(value.ToString(), AuditJson); }
        catch (JsonException) { return null; }
    }

    private static readonly JsonSerializerOptions AuditJson = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? Next);

    /// <summary>The audit page cursor: "index-hash", the list position of a page's last entry and 16 hex digits of its SHA-256.</summary>
    private sealed partial record AuditCursor(long Index, string Hash)
    {
        [System.Text.RegularExpressions.GeneratedRegex("^([0-9]{1,9})-([0-9a-f]{16})$")]
        private static partial System.Text.RegularExpressions.Regex Format();

        public static AuditCursor? Parse(string text) =>
            Format().Match(text) is { Success: true } m ? new AuditCursor(long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[2].Value) : null;

        public static string HashOf(RedisValue value) => Convert.ToHexStringLower(SHA256.HashData((byte[])value!).AsSpan(0, 8));

        public override string ToString() => $"{Index}-{Hash}";
    }

    /// <summary>
    /// A generation as the console lists it: the stored meta plus when a replaced generation's keys expire (the end of
    /// its grace period, after which it can no longer be rolled back to), from the TTL of its meta key.
    /// </summary>
    private sealed record GenerationJson(string Id, string Status, string CodebookHash, int Levels, int CodesPerLevel, int Dimension,
        long Users, long Items, long Sids, DateTimeOffset Created, DateTimeOffset? Completed, DateTimeOffset? Published, DateTimeOffset? AsOf,
        string Source, int ShardCount, DateTimeOffset? ExpiresAt);

    /// <summary>How many of the newest generation switches GET /generations returns (the list keeps AuditLogLength).</summary>
    private const int SwitchesShown = 20;

    private static async Task<IResult> GetGenerations(HttpRequest request, GenerationRegistry registry, IDatabase db, RedisKeys keys)
    {
        try
        {
            var list = await registry.ListAsync();
            var ttls = await Task.WhenAll(list.Select(g => db.KeyTimeToLiveAsync(keys.Meta(g.Id))));
            var now = DateTimeOffset.UtcNow;
            var generations = list.Select((g, i) => new GenerationJson(g.Id, g.Status, g.CodebookHash, g.Levels, g.CodesPerLevel, g.Dimension,
                g.Users, g.Items, g.Sids, g.Created, g.Completed, g.Published, g.AsOf, g.Source, g.ShardCount,
                ttls[i] is { } ttl ? now + ttl : null)).ToList();
            var switches = await registry.GetSwitchesAsync(SwitchesShown);
            return Results.Json(new { active = await registry.GetActiveIdAsync(), generations, switches });
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "the generations could not be read"); }
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9_.:-]{1,128}$")]
    private static partial System.Text.RegularExpressions.Regex GenerationId();

    private sealed record PublishValidation(bool Ok, IReadOnlyList<string> Checks);

    private sealed record PublishResult(string Active, string? Previous, PublishValidation Validation);

    private sealed record PublishFailure(string Error, PublishValidation Validation);

    /// <summary>
    /// Publishes generation <paramref name="id"/>: a rollback when it is an earlier one. The same validated, atomic switch as
    /// the batch CLI's publish (<see cref="GenerationPublisher"/>); every replica follows on the store's event.
    /// </summary>
    private static async Task<IResult> PublishGeneration(string id, HttpRequest request, IDatabase db, RedisKeys keys, StoreOptions storeOptions,
        GenerationRegistry registry, ServingState state, ILoggerFactory loggers)
    {
        if (!GenerationId().IsMatch(id))
            return Problem(400, $"'generation' = '{Excerpt(id)}' must be 1-128 characters of letters, digits, '_', '.', ':' or '-'");
        try
        {
            var meta = await registry.GetMetaAsync(id);
            if (meta is null) return Problem(404, $"generation '{id}' does not exist (never written, or expired after its grace period)");
            var previous = await registry.GetActiveIdAsync();
            if (previous == id) return Problem(409, $"generation '{id}' is already active");
            GenerationMeta published;
            try { published = await GenerationPublisher.PublishAsync(db, keys, storeOptions, id, actor: Actor(request)); }
            catch (PublishException e)
            {
                return Results.Json(new PublishFailure(e.Message, new PublishValidation(false, [$"failed: {e.Message}", "nothing was switched; the active generation is unchanged"])),
                    statusCode: meta.Status == GenerationStatus.Writing ? 409 : 422);
            }
            loggers.CreateLogger("CoNRec.FilterService.Admin").LogInformation("Admin publish: generation {Generation} made active by {Actor} (previous {Previous})",
                id, Actor(request), previous ?? "none");
            await state.RefreshAsync(request.HttpContext.RequestAborted);
            var checks = new List<string>
            {
                $"status '{meta.Status}' can be published",
                $"codebook {published.CodebookHash[..Math.Min(12, published.CodebookHash.Length)]} is present and its SHA-256 matches",
                $"{published.Users} users readable, as the meta counts",
                $"{published.Items} catalog items readable, as the meta counts",
                previous is null ? "active pointer set atomically" : $"active pointer switched atomically from {previous}; {previous} stays readable for the grace period",
            };
            return Results.Json(new PublishResult(id, previous, new PublishValidation(true, checks)));
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e)) { return StoreDown(request, e, "nothing was published"); }
    }

    private static IResult GetSamples(SampleFiles files) =>
        Results.Json(new { configured = files.Configured, files = files.List() });

    private sealed record HealthJson(int WindowS, long Calls, double RequestsPerS, double? P99Ms, IReadOnlyDictionary<string, double> RejectRatioByScene,
        IReadOnlyDictionary<string, double> FailOpenByReason, string Breaker, string? Generation, bool StoreReachable);

    /// <summary>This replica's own recent traffic (<see cref="RecentRequests"/>) and state: what the console's health view polls.</summary>
    private static IResult GetHealth(FilterMetrics metrics, ServingState state)
    {
        var recent = metrics.Recent.Summarize();
        var snapshot = state.Current;
        string breaker = metrics.BreakerState switch { BreakerState.Open => "open", BreakerState.HalfOpen => "half_open", _ => "closed" };
        return Results.Json(new HealthJson(recent.WindowS, recent.Calls, recent.RequestsPerS, recent.P99Ms, recent.RejectRatioByScene, recent.FailOpenByReason,
            breaker, snapshot.Generation?.Id, snapshot.StoreReachable));
    }

    /// <summary>A bounded excerpt of a client string for error messages.</summary>
    private static string Excerpt(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");

    private static async Task<IResult> Tune(string scene, HttpRequest request, ServingState state, FilterEngine engine, SceneStore store,
        AdminStoreReader adminReader, IOptions<FilterOptions> filterOptions, SampleFiles sampleFiles)
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

        bool hasSamples = root.TryGetProperty("samples", out var samplesJson), hasFile = root.TryGetProperty("sample_file", out var fileJson);
        if (hasSamples && hasFile) return Problem(400, "set either 'samples' or 'sample_file', not both");
        var snapshot = state.Current;
        var layout = snapshot.Generation?.Codebook.Layout;
        List<TuneSample> samples;
        string? sampleFile = null;
        if (hasFile)
        {
            // A file on the server, by name (GET /admin/v1/samples lists them): never a path.
            if (fileJson.ValueKind != JsonValueKind.String || fileJson.GetString() is not { Length: > 0 } name)
                return Problem(400, "'sample_file' must be a non-empty string: a file name listed by GET /admin/v1/samples");
            var read = await sampleFiles.ReadAsync(name, layout, filterOptions.Value.MaxIdBytes, request.HttpContext.RequestAborted);
            if (read.Error is not null) return Problem(read.Status, read.Error);
            samples = read.Samples!;
            sampleFile = name;
        }
        else
        {
            if (!hasSamples || samplesJson.ValueKind != JsonValueKind.Array)
                return Problem(400, "'samples' is required and must be an array (or set 'sample_file')");
            int n = samplesJson.GetArrayLength();
            if (n == 0 || n > MaxTuneSamples) return Problem(400, $"'samples' has {n} entries; it must have 1 to {MaxTuneSamples}");
            samples = new List<TuneSample>(n);
            int idx = 0;
            foreach (var s in samplesJson.EnumerateArray())
            {
                var parsed = ParseSample(s, $"samples[{idx}]", layout, filterOptions.Value.MaxIdBytes, out var sampleError);
                if (sampleError is not null) return Problem(400, sampleError);
                samples.Add(parsed!);
                idx++;
            }
        }
        int count = samples.Count;

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
            sample_file = sampleFile,
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

    /// <summary>One sample object; <paramref name="at"/> prefixes field names in messages ("samples[3]"), null for none (a file line).</summary>
    internal static TuneSample? ParseSample(JsonElement s, string? at, SidLayout? layout, int maxIdBytes, out string? error)
    {
        error = null;
        string F(string field) => at is null ? field : $"{at}.{field}";
        if (s.ValueKind != JsonValueKind.Object) { error = at is null ? "must be a JSON object" : $"'{at}' must be an object"; return null; }
        string? Str(string field, ref string? problem)
        {
            if (!s.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 } str)
            { problem ??= $"'{F(field)}' is required and must be a non-empty string"; return null; }
            if (Encoding.UTF8.GetByteCount(str) > maxIdBytes) { problem ??= $"'{F(field)}' is longer than {maxIdBytes} bytes"; return null; }
            return str;
        }
        string? problem = null;
        var user = Str("user_id", ref problem);
        var item = Str("item_id", ref problem);
        if (problem is not null) { error = problem; return null; }
        if (!s.TryGetProperty("disliked", out var d) || d.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        { error = $"'{F("disliked")}' is required and must be true or false"; return null; }
        uint[]? sid = null;
        if (s.TryGetProperty("sid", out var sidJson) && sidJson.ValueKind != JsonValueKind.Null)
        {
            if (sidJson.ValueKind != JsonValueKind.Array) { error = $"'{F("sid")}' must be an array of codes"; return null; }
            var codes = new List<uint>();
            foreach (var c in sidJson.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.Number || !c.TryGetUInt32(out var code)) { error = $"'{F("sid")}[{codes.Count}]' must be a non-negative integer"; return null; }
                codes.Add(code);
                if (codes.Count > SidLayout.MaxLevels) { error = $"'{F("sid")}' has more than {SidLayout.MaxLevels} codes"; return null; }
            }
            if (layout is { } l && l.Validate(codes.ToArray(), F("sid")) is { } sidError) { error = sidError; return null; }
            sid = [.. codes];
        }
        return new TuneSample(user!, item!, sid, d.GetBoolean());
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
