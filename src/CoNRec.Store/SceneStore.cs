using System.Text.Json;
using System.Text.RegularExpressions;
using CoNRec.Core;
using StackExchange.Redis;

namespace CoNRec.Store;

public sealed record SceneRecord(string Scene, SceneSettings Settings, DateTimeOffset Updated, string UpdatedBy);

public sealed record AuditEntry(DateTimeOffset Time, string Scene, string Actor, string Action,
    float? OldThreshold, string? OldMode, float NewThreshold, string NewMode, float? OldGuardWeight = null, float? NewGuardWeight = null,
    float? OldPredictedWeight = null, float? NewPredictedWeight = null);

/// <summary>
/// Per-scene threshold, mode and guard weight: persisted in one hash, audited in a capped list, announced on the
/// events channel. A scene stored before guard weights existed takes the configured default.
/// </summary>
public sealed partial class SceneStore(IDatabase db, RedisKeys keys, StoreOptions options)
{
    public const string DefaultScene = "default";

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex SceneName();

    /// <summary>Null when valid; else a message quoting a bounded excerpt of the name (a 10 KB name must not become a 10 KB error).</summary>
    public static string? ValidateName(string scene) =>
        SceneName().IsMatch(scene) ? null
            : scene.Length <= 64 ? $"'scene' = '{scene}' must be 1-64 characters of letters, digits, '_', '.' or '-'"
            : $"'scene' = '{scene.AsSpan(0, 32)}…' ({scene.Length} characters) must be 1-64 characters of letters, digits, '_', '.' or '-'";

    public async Task<IReadOnlyDictionary<string, SceneRecord>> GetAllAsync(float defaultGuardWeight = 0f, float defaultPredictedWeight = 1f)
    {
        var entries = await db.HashGetAllAsync(keys.Scenes);
        var result = new Dictionary<string, SceneRecord>(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            if (Parse(e.Name!, e.Value!, defaultGuardWeight, defaultPredictedWeight) is { } r) result[r.Scene] = r;
        }
        return result;
    }

    public async Task<SceneRecord> SetAsync(string scene, SceneSettings settings, string actor, string action)
    {
        if (ValidateName(scene) is { } nameError) throw new ArgumentException(nameError, nameof(scene));
        if (SceneSettings.Validate(settings.Threshold) is { } thresholdError) throw new ArgumentException(thresholdError, nameof(settings));
        if (ProfileScoring.ValidateGuardWeight(settings.GuardWeight) is { } guardError) throw new ArgumentException(guardError, nameof(settings));
        if (ProfileScoring.ValidatePredictedWeight(settings.PredictedWeight) is { } predictedError) throw new ArgumentException(predictedError, nameof(settings));
        var old = await db.HashGetAsync(keys.Scenes, scene);
        var oldRecord = old.IsNull ? null : Parse(scene, old!, float.NaN, float.NaN);
        var record = new SceneRecord(scene, settings, DateTimeOffset.UtcNow, actor);
        static float? Known(float v) => float.IsNaN(v) ? null : v;
        var audit = new AuditEntry(record.Updated, scene, actor, action, oldRecord?.Settings.Threshold,
            oldRecord is null ? null : SceneSettings.ModeName(oldRecord.Settings.Mode), settings.Threshold, SceneSettings.ModeName(settings.Mode),
            oldRecord is null ? null : Known(oldRecord.Settings.GuardWeight), settings.GuardWeight,
            oldRecord is null ? null : Known(oldRecord.Settings.PredictedWeight), settings.PredictedWeight);

        // One transaction: the setting and its audit entry land together or not at all.
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(keys.Scenes, scene, Serialize(record));
        _ = tx.ListLeftPushAsync(keys.Audit, JsonSerializer.Serialize(audit, StoreJson.Options));
        _ = tx.ListTrimAsync(keys.Audit, 0, options.AuditLogLength - 1);
        if (!await tx.ExecuteAsync()) throw new RedisException("scene update transaction was not applied");
        await db.PublishAsync(keys.Events, StoreEvents.Scenes);
        return record;
    }

    public async Task<IReadOnlyList<AuditEntry>> GetAuditAsync(int count)
    {
        var values = await db.ListRangeAsync(keys.Audit, 0, Math.Max(0, count - 1));
        return values.Select(v => JsonSerializer.Deserialize<AuditEntry>(v.ToString(), StoreJson.Options)!).ToList();
    }

    private static string Serialize(SceneRecord r) => JsonSerializer.Serialize(new StoredScene(
        r.Settings.Threshold, SceneSettings.ModeName(r.Settings.Mode), r.Updated, r.UpdatedBy, r.Settings.GuardWeight, r.Settings.PredictedWeight), StoreJson.Options);

    // A malformed stored value is skipped (and the scene falls back to default) rather than breaking every replica.
    private static SceneRecord? Parse(string scene, string json, float defaultGuardWeight, float defaultPredictedWeight)
    {
        try
        {
            var s = JsonSerializer.Deserialize<StoredScene>(json, StoreJson.Options);
            if (s is null || SceneSettings.Validate(s.Threshold) is not null || SceneSettings.ParseMode(s.Mode) is not { } mode) return null;
            if (s.GuardWeight is { } g && ProfileScoring.ValidateGuardWeight(g) is not null) return null;
            if (s.PredictedWeight is { } w && ProfileScoring.ValidatePredictedWeight(w) is not null) return null;
            return new SceneRecord(scene, new SceneSettings(s.Threshold, mode, s.GuardWeight ?? defaultGuardWeight, s.PredictedWeight ?? defaultPredictedWeight),
                s.Updated, s.UpdatedBy ?? "");
        }
        catch (JsonException) { return null; }
    }

    private sealed record StoredScene(float Threshold, string Mode, DateTimeOffset Updated, string? UpdatedBy, float? GuardWeight = null, float? PredictedWeight = null);
}

internal static class StoreJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
