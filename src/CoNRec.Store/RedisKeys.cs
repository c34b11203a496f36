using System.Text;
using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// The key schema. Control keys share the hash tag {prefix} so the publish transaction (WATCH meta, SET active)
/// stays in one Redis Cluster slot. Catalog buckets carry no tag so a big generation spreads over the cluster.
/// <para>User keys (key layout 2) carry the tag <c>{u:g}</c>, g = FNV-1a-64(user_id) mod <see cref="UserGroups"/>, which
/// does not depend on the generation: a user's profile bucket in every generation and their same-day feedback
/// overlay share one hash slot, so one pipelined round trip to one node reads both, also on a cluster. A group
/// is split into sub-buckets so each bucket stays a small listpack. Generations written before layout 2 hash
/// users into untagged buckets (FNV mod B) and are still read that way.</para>
/// </summary>
public sealed class RedisKeys(string prefix)
{
    /// <summary>Hash-tag groups of users: enough distinct slots to spread over any practical cluster.</summary>
    public const int UserGroups = 1024;

    /// <summary>The current user key layout (see the class remarks); meta without a layout field is layout 1.</summary>
    public const int CurrentUserLayout = 2;

    public string Prefix { get; } = prefix;

    public RedisKey Active => $"{{{Prefix}}}:active";
    public RedisKey Generations => $"{{{Prefix}}}:generations";
    public RedisKey Meta(string generation) => $"{{{Prefix}}}:meta:{generation}";
    public RedisKey Shards(string generation) => $"{{{Prefix}}}:shards:{generation}";
    public RedisKey Scenes => $"{{{Prefix}}}:scenes";
    public RedisKey Audit => $"{{{Prefix}}}:audit";
    /// <summary>Capped list of generation switches (publish and rollback), newest first; same slot as the active pointer.</summary>
    public RedisKey Switches => $"{{{Prefix}}}:switches";
    public RedisChannel Events => RedisChannel.Literal($"{Prefix}:events");
    public RedisKey Codebook(string hash) => $"{Prefix}:codebook:{hash}";
    public RedisKey UserBucket(string generation, int bucket) => UserBucketPrefix(generation) + bucket.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public RedisKey ItemBucket(string generation, int bucket) => ItemBucketPrefix(generation) + bucket.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public string UserBucketPrefix(string generation) => $"{Prefix}:g:{generation}:u:";
    public string ItemBucketPrefix(string generation) => $"{Prefix}:g:{generation}:i:";

    /// <summary>The key of user bucket <paramref name="bucket"/> of a generation, in that generation's key layout.</summary>
    public RedisKey UserBucket(GenerationMeta meta, int bucket) =>
        meta.UserKeyLayout >= 2
            ? $"{Prefix}:g:{meta.Id}:u:{{u:{bucket % UserGroups}}}:{bucket / UserGroups}"
            : UserBucket(meta.Id, bucket);

    /// <summary>The bucket holding <paramref name="userId"/>'s profile in a generation.</summary>
    public static int UserBucketOf(GenerationMeta meta, string userId)
    {
        if (meta.UserKeyLayout < 2) return Bucket(userId, meta.UserBuckets);
        ulong h = Hash64(userId);
        int subBuckets = meta.UserBuckets / UserGroups;
        return (int)(h % UserGroups) + (UserGroups * (int)(h / UserGroups % (ulong)subBuckets));
    }

    /// <summary>The user's profile key in a generation (what the hot path reads).</summary>
    public RedisKey UserKey(GenerationMeta meta, string userId) => UserBucket(meta, UserBucketOf(meta, userId));

    /// <summary>The user's same-day feedback overlay: generation-independent, in the same slot as every profile bucket of theirs.</summary>
    public RedisKey Feedback(string userId) => $"{Prefix}:fb:{{u:{Hash64(userId) % UserGroups}}}:{userId}";

    /// <summary>User buckets for a new generation: a whole number of sub-buckets per tag group.</summary>
    public static int UserBucketCount(long users, int perBucket) =>
        UserGroups * (int)Math.Clamp((users + ((long)UserGroups * perBucket) - 1) / ((long)UserGroups * perBucket), 1, (1 << 24) / UserGroups);

    /// <summary>FNV-1a 64 over UTF-8: stable across processes, machines and languages, unlike string.GetHashCode.</summary>
    public static ulong Hash64(string id)
    {
        const ulong offset = 14695981039346656037UL, prime = 1099511628211UL;
        Span<byte> stack = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(id.Length);
        Span<byte> bytes = max <= stack.Length ? stack : new byte[max];
        int n = Encoding.UTF8.GetBytes(id, bytes);
        ulong h = offset;
        foreach (var b in bytes[..n]) { h ^= b; h *= prime; }
        return h;
    }

    public static int Bucket(string id, int buckets) => (int)(Hash64(id) % (ulong)buckets);

    public static int BucketCount(long entries, int perBucket) => (int)Math.Clamp((entries + perBucket - 1) / perBucket, 1, 1 << 24);
}
