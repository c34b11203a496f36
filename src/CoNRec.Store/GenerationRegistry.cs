using System.Text.Json;
using StackExchange.Redis;

namespace CoNRec.Store;

public sealed class PublishException(string message) : InvalidOperationException(message);

/// <summary>
/// One switch of the active generation, as the audit keeps it: <c>publish</c> for a generation never served before,
/// <c>rollback</c> for one that was (published or retired); <see cref="Actor"/> says who or what asked for it.
/// </summary>
public sealed record GenerationSwitch(DateTimeOffset Time, string Actor, string Action, string Generation, string? Previous);

/// <summary>
/// Lists, validates and publishes generations. Publishing is one atomic pointer switch (a WATCHed transaction),
/// done only after validation; the replaced generation keeps serving reads for the grace period, so a rollback
/// is just publishing it again.
/// </summary>
public sealed class GenerationRegistry(IDatabase db, RedisKeys keys, StoreOptions options)
{
    public async Task<string?> GetActiveIdAsync()
    {
        var v = await db.StringGetAsync(keys.Active);
        return v.IsNullOrEmpty ? null : v.ToString();
    }

    public async Task<GenerationMeta?> GetMetaAsync(string generation)
    {
        var entries = await db.HashGetAllAsync(keys.Meta(generation));
        return GenerationMeta.FromHash(entries, out _);
    }

    public async Task<IReadOnlyList<GenerationMeta>> ListAsync()
    {
        var ids = await db.SortedSetRangeByRankAsync(keys.Generations, order: Order.Descending);
        var result = new List<GenerationMeta>();
        foreach (var id in ids)
        {
            if (await GetMetaAsync(id.ToString()) is { } meta) result.Add(meta);
            else await db.SortedSetRemoveAsync(keys.Generations, id); // expired: forget it
        }
        return result;
    }

    /// <summary>
    /// Validates <paramref name="generation"/> and makes it active. Validation: status complete (or a retired/published
    /// generation being rolled back to), codebook blob present with the right hash, and every counted user and item
    /// actually readable (Σ HLEN over buckets equals the meta counts, which also catches expired buckets).
    /// </summary>
    /// <param name="actor">Who asked (admin token name, CLI user, loader): written with the switch into the audit list.</param>
    public async Task<GenerationMeta> PublishAsync(string generation, string actor = "unknown")
    {
        var meta = await GetMetaAsync(generation) ?? throw new PublishException($"generation '{generation}' does not exist (never written, or expired)");
        if (meta.Status == GenerationStatus.Writing)
            throw new PublishException($"generation '{generation}' is still being written (status '{meta.Status}'); only a complete generation can be published");

        // Make the generation durable before it can become visible; undo if validation then fails.
        await SetExpiryAsync(meta, null);
        try
        {
            var blob = await db.StringGetLeaseAsync(keys.Codebook(meta.CodebookHash));
            using (blob)
            {
                if (blob is null) throw new PublishException($"generation '{generation}': codebook {meta.CodebookHash} is missing");
                var hash = Core.Codebook.HashOf(blob.Span);
                if (hash != meta.CodebookHash) throw new PublishException($"generation '{generation}': codebook blob hash {hash} does not match {meta.CodebookHash}");
            }
            long users = await CountFieldsAsync(meta.UserBuckets, b => keys.UserBucket(meta, b));
            if (users != meta.Users) throw new PublishException($"generation '{generation}': {users} users readable, meta says {meta.Users}");
            long items = await CountFieldsAsync(meta.ItemBuckets, b => keys.ItemBucket(generation, b));
            if (items != meta.Items) throw new PublishException($"generation '{generation}': {items} catalog items readable, meta says {meta.Items}");
        }
        catch
        {
            if (meta.Status == GenerationStatus.Complete) await SetExpiryAsync(meta, options.WritingTtl);
            throw;
        }

        var previous = await GetActiveIdAsync();
        var tx = db.CreateTransaction();
        // The condition makes the switch atomic with respect to a concurrent writer or deleter of this generation.
        tx.AddCondition(Condition.HashEqual(keys.Meta(generation), "status", meta.Status));
        tx.AddCondition(previous is null ? Condition.KeyNotExists(keys.Active) : Condition.StringEqual(keys.Active, previous));
        _ = tx.StringSetAsync(keys.Active, generation);
        var now = DateTimeOffset.UtcNow;
        _ = tx.HashSetAsync(keys.Meta(generation), [new("status", GenerationStatus.Published), new("published", now.ToString("O"))]);
        // The switch and its audit entry commit together (same slot): an audited switch happened, and every switch is audited.
        bool servedBefore = meta.Status is GenerationStatus.Retired or GenerationStatus.Published;
        var entry = new GenerationSwitch(now, actor, servedBefore ? "rollback" : "publish", generation, previous);
        _ = tx.ListLeftPushAsync(keys.Switches, JsonSerializer.Serialize(entry, StoreJson.Options));
        _ = tx.ListTrimAsync(keys.Switches, 0, options.AuditLogLength - 1);
        if (!await tx.ExecuteAsync())
            throw new PublishException($"generation '{generation}': the active pointer or its status changed during publish; retry");

        if (previous is not null && previous != generation && await GetMetaAsync(previous) is { } old)
        {
            await db.HashSetAsync(keys.Meta(previous), [new("status", GenerationStatus.Retired), new("retired", DateTimeOffset.UtcNow.ToString("O"))]);
            await SetExpiryAsync(old, options.GracePeriod, keepCodebook: old.CodebookHash == meta.CodebookHash);
        }
        await db.PublishAsync(keys.Events, StoreEvents.Active);
        return (await GetMetaAsync(generation))!;
    }

    /// <summary>The newest <paramref name="count"/> generation switches, newest first.</summary>
    public async Task<IReadOnlyList<GenerationSwitch>> GetSwitchesAsync(int count)
    {
        var values = await db.ListRangeAsync(keys.Switches, 0, Math.Max(0, count - 1));
        return values.Select(v => JsonSerializer.Deserialize<GenerationSwitch>(v.ToString(), StoreJson.Options)!).ToList();
    }

    private async Task<long> CountFieldsAsync(int buckets, Func<int, RedisKey> key)
    {
        long total = 0;
        const int window = 2048;
        var tasks = new List<Task<long>>(window);
        for (int b = 0; b < buckets; b++)
        {
            tasks.Add(db.HashLengthAsync(key(b)));
            if (tasks.Count == window) { total += (await Task.WhenAll(tasks)).Sum(); tasks.Clear(); }
        }
        total += (await Task.WhenAll(tasks)).Sum();
        return total;
    }

    /// <summary>Sets (or with null removes) the TTL of every key of a generation, pipelined.</summary>
    public async Task SetExpiryAsync(GenerationMeta meta, TimeSpan? ttl, bool keepCodebook = false)
    {
        var all = AllKeys(keys, meta).ToList();
        if (keepCodebook) all.Remove(keys.Codebook(meta.CodebookHash));
        const int window = 4096;
        for (int i = 0; i < all.Count; i += window)
        {
            var batch = all.Skip(i).Take(window).Select(k => ttl is { } t ? db.KeyExpireAsync(k, t) : db.KeyPersistAsync(k));
            await Task.WhenAll(batch);
        }
    }

    public static IEnumerable<RedisKey> AllKeys(RedisKeys keys, GenerationMeta meta)
    {
        yield return keys.Meta(meta.Id);
        yield return keys.Shards(meta.Id);
        yield return keys.Codebook(meta.CodebookHash);
        for (int b = 0; b < meta.UserBuckets; b++) yield return keys.UserBucket(meta, b);
        for (int b = 0; b < meta.ItemBuckets; b++) yield return keys.ItemBucket(meta.Id, b);
    }

    /// <summary>Deletes a generation's keys (not a shared codebook). Refuses the active generation.</summary>
    public static async Task DeleteKeysAsync(IDatabase db, RedisKeys keys, GenerationMeta meta)
    {
        var active = await db.StringGetAsync(keys.Active);
        if (active == meta.Id) throw new InvalidOperationException($"generation '{meta.Id}' is active; publish another one first");
        var list = AllKeys(keys, meta).Where(k => k != keys.Codebook(meta.CodebookHash)).ToList();
        // One DEL per key, pipelined: a multi-key DEL is CROSSSLOT on a Redis Cluster, and buckets live in every slot.
        const int window = 4096;
        for (int i = 0; i < list.Count; i += window) await Task.WhenAll(list.Skip(i).Take(window).Select(k => db.KeyDeleteAsync(k)));
        await db.SortedSetRemoveAsync(keys.Generations, meta.Id);
    }
}
