using System.Text;
using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// The key schema. Control keys share the hash tag {prefix} so the publish transaction (WATCH meta, SET active)
/// stays in one Redis Cluster slot; bucket keys carry no tag so a big generation spreads over the cluster,
/// while each user (one bucket) lives in exactly one slot.
/// </summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;

    public RedisKey Active => $"{{{Prefix}}}:active";
    public RedisKey Generations => $"{{{Prefix}}}:generations";
    public RedisKey Meta(string generation) => $"{{{Prefix}}}:meta:{generation}";
    public RedisKey Shards(string generation) => $"{{{Prefix}}}:shards:{generation}";
    public RedisKey Scenes => $"{{{Prefix}}}:scenes";
    public RedisKey Audit => $"{{{Prefix}}}:audit";
    public RedisChannel Events => RedisChannel.Literal($"{Prefix}:events");
    public RedisKey Codebook(string hash) => $"{Prefix}:codebook:{hash}";
    public RedisKey UserBucket(string generation, int bucket) => UserBucketPrefix(generation) + bucket.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public RedisKey ItemBucket(string generation, int bucket) => ItemBucketPrefix(generation) + bucket.ToString(System.Globalization.CultureInfo.InvariantCulture);
    public string UserBucketPrefix(string generation) => $"{Prefix}:g:{generation}:u:";
    public string ItemBucketPrefix(string generation) => $"{Prefix}:g:{generation}:i:";

    /// <summary>FNV-1a 64 over UTF-8: stable across processes, machines and languages, unlike string.GetHashCode.</summary>
    public static int Bucket(string id, int buckets)
    {
        const ulong offset = 14695981039346656037UL, prime = 1099511628211UL;
        Span<byte> stack = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(id.Length);
        Span<byte> bytes = max <= stack.Length ? stack : new byte[max];
        int n = Encoding.UTF8.GetBytes(id, bytes);
        ulong h = offset;
        foreach (var b in bytes[..n]) { h ^= b; h *= prime; }
        return (int)(h % (ulong)buckets);
    }

    public static int BucketCount(long entries, int perBucket) => (int)Math.Clamp((entries + perBucket - 1) / perBucket, 1, 1 << 24);
}
