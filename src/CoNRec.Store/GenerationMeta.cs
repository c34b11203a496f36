using System.Globalization;
using StackExchange.Redis;

namespace CoNRec.Store;

public static class GenerationStatus
{
    public const string Writing = "writing";
    public const string Complete = "complete";
    public const string Published = "published";
    public const string Retired = "retired";
}

/// <summary>What a generation is: its codebook (by content hash), layout, sizes and lifecycle.</summary>
public sealed record GenerationMeta
{
    public required string Id { get; init; }
    public required string Status { get; init; }
    public required string CodebookHash { get; init; }
    public required int Levels { get; init; }
    public required int CodesPerLevel { get; init; }
    public required int Dimension { get; init; }
    public required int UserBuckets { get; init; }
    public required int ItemBuckets { get; init; }
    public long Users { get; init; }
    public long Items { get; init; }
    public long Sids { get; init; }
    public int UserBucketsUsed { get; init; }
    public int ItemBucketsUsed { get; init; }
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset? Completed { get; init; }
    public DateTimeOffset? Published { get; init; }
    public string Source { get; init; } = "";
    public int ShardCount { get; init; } = 1;

    /// <summary>User key layout (see <see cref="RedisKeys"/>): 1 for generations written before hash-tagged user groups.</summary>
    public int UserKeyLayout { get; init; } = 1;

    /// <summary>
    /// The time up to which the generation's inputs include user feedback (the histories' snapshot). Same-day feedback
    /// recorded at or before it is already in the profiles, so the overlay ignores it. Defaults to <see cref="Created"/>.
    /// </summary>
    public DateTimeOffset? AsOf { get; init; }

    public DateTimeOffset EffectiveAsOf => AsOf ?? Created;

    public HashEntry[] ToHash()
    {
        var list = new List<HashEntry>
        {
            new("id", Id), new("status", Status), new("codebook", CodebookHash),
            new("levels", Levels), new("codes", CodesPerLevel), new("dim", Dimension),
            new("user_buckets", UserBuckets), new("item_buckets", ItemBuckets),
            new("users", Users), new("items", Items), new("sids", Sids),
            new("user_buckets_used", UserBucketsUsed), new("item_buckets_used", ItemBucketsUsed),
            new("created", Created.ToString("O")), new("source", Source), new("shard_count", ShardCount),
        };
        if (UserKeyLayout != 1) list.Add(new("user_layout", UserKeyLayout));
        if (AsOf is { } asOf) list.Add(new("as_of", asOf.ToString("O")));
        if (Completed is { } c) list.Add(new("completed", c.ToString("O")));
        if (Published is { } p) list.Add(new("published", p.ToString("O")));
        return [.. list];
    }

    /// <summary>Parses a meta hash; returns null (with the reason) if a field is missing or malformed.</summary>
    public static GenerationMeta? FromHash(HashEntry[] entries, out string? problem)
    {
        problem = null;
        if (entries.Length == 0) { problem = "no meta"; return null; }
        var d = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        string? Get(string k) => d.TryGetValue(k, out var v) ? v : null;
        int I(string k) => int.Parse(Get(k) ?? throw new FormatException($"meta field '{k}' missing"), CultureInfo.InvariantCulture);
        long L(string k) => Get(k) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : 0;
        DateTimeOffset? T(string k) => Get(k) is { } v ? DateTimeOffset.Parse(v, CultureInfo.InvariantCulture) : null;
        try
        {
            var meta = new GenerationMeta
            {
                Id = Get("id") ?? throw new FormatException("meta field 'id' missing"),
                Status = Get("status") ?? throw new FormatException("meta field 'status' missing"),
                CodebookHash = Get("codebook") ?? throw new FormatException("meta field 'codebook' missing"),
                Levels = I("levels"), CodesPerLevel = I("codes"), Dimension = I("dim"),
                UserBuckets = I("user_buckets"), ItemBuckets = I("item_buckets"),
                Users = L("users"), Items = L("items"), Sids = L("sids"),
                UserBucketsUsed = (int)L("user_buckets_used"), ItemBucketsUsed = (int)L("item_buckets_used"),
                Created = T("created") ?? DateTimeOffset.MinValue, Completed = T("completed"), Published = T("published"),
                Source = Get("source") ?? "", ShardCount = Get("shard_count") is null ? 1 : I("shard_count"),
                UserKeyLayout = Get("user_layout") is null ? 1 : I("user_layout"), AsOf = T("as_of"),
            };
            if (meta.UserKeyLayout is < 1 or > RedisKeys.CurrentUserLayout) throw new FormatException($"meta field 'user_layout' = {meta.UserKeyLayout} is unknown to this version");
            if (meta.UserKeyLayout >= 2 && (meta.UserBuckets < RedisKeys.UserGroups || meta.UserBuckets % RedisKeys.UserGroups != 0))
                throw new FormatException($"meta field 'user_buckets' = {meta.UserBuckets} is not a multiple of {RedisKeys.UserGroups}");
            return meta;
        }
        catch (FormatException e) { problem = e.Message; return null; }
        catch (OverflowException e) { problem = e.Message; return null; }
    }
}
