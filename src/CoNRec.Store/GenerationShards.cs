using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace CoNRec.Store;

public static class ShardStatus
{
    public const string Running = "running";
    public const string Done = "done";
}

/// <summary>
/// A shard's durable checkpoint. <see cref="Line"/> is the last input line whose predictions are flushed to Redis;
/// a restarted shard skips lines up to it. Counters are cumulative at that line, so a crash between a flush and
/// the next checkpoint only causes recomputation (identical values rewritten), never double counting.
/// </summary>
public sealed record ShardProgress
{
    public string Status { get; init; } = ShardStatus.Running;
    public long Line { get; init; }
    /// <summary>Valid input records read, every shard's users included (the error budget's denominator).</summary>
    public long Records { get; init; }
    /// <summary>Users of this shard read from the input (valid lines).</summary>
    public long Seen { get; init; }
    /// <summary>Users with at least one SID written.</summary>
    public long Users { get; init; }
    public long Sids { get; init; }
    /// <summary>Users skipped because no history item is in the catalog (nothing to prompt with).</summary>
    public long NoHistory { get; init; }
    /// <summary>Users whose prompt was fine but the search returned nothing: a broken model or trie.</summary>
    public long EmptyOutput { get; init; }
    public long UnknownItems { get; init; }
    public long BadRecords { get; init; }
    public long DuplicateUsers { get; init; }
    /// <summary>Bytes of the --output file covered by this checkpoint (a resumed run truncates back to it).</summary>
    public long OutputBytes { get; init; }
    /// <summary>Identifies the input (name, size, content hash) so a resume never mixes two different files.</summary>
    public string Input { get; init; } = "";
    public string Codebook { get; init; } = "";
    public DateTimeOffset Updated { get; init; }
}

/// <summary>The catalog of a sharded generation is written once (by shard 0) and recorded here.</summary>
public sealed record CatalogProgress(long Items, string Codebook);

/// <summary>What publish demands of a sharded generation beyond the structural checks.</summary>
public sealed record PublishPolicy
{
    /// <summary>Minimum share of input users that received predictions.</summary>
    public double MinCoverage { get; init; } = 0.5;
    /// <summary>Maximum share of prompted users for whom the search produced nothing.</summary>
    public double MaxEmptyOutputRate { get; init; } = 0.01;
}

/// <summary>Shard checkpoints of a generation, in the <c>{prefix}:shards:G</c> hash (fields <c>shard:i</c> and <c>catalog</c>).</summary>
public sealed class GenerationShards(IDatabase db, RedisKeys keys)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    private static string Field(int shard) => "shard:" + shard.ToString(CultureInfo.InvariantCulture);

    public async Task<ShardProgress?> GetAsync(string generation, int shard)
    {
        var v = await db.HashGetAsync(keys.Shards(generation), Field(shard));
        return v.IsNullOrEmpty ? null : Parse(v!, generation, Field(shard));
    }

    public Task SaveAsync(string generation, int shard, ShardProgress progress) =>
        db.HashSetAsync(keys.Shards(generation), Field(shard), JsonSerializer.Serialize(progress with { Updated = DateTimeOffset.UtcNow }, Json));

    public async Task<CatalogProgress?> GetCatalogAsync(string generation)
    {
        var v = await db.HashGetAsync(keys.Shards(generation), "catalog");
        return v.IsNullOrEmpty ? null : JsonSerializer.Deserialize<CatalogProgress>(v.ToString(), Json);
    }

    public Task SaveCatalogAsync(string generation, CatalogProgress catalog) =>
        db.HashSetAsync(keys.Shards(generation), "catalog", JsonSerializer.Serialize(catalog, Json));

    public async Task<IReadOnlyDictionary<int, ShardProgress>> ListAsync(string generation)
    {
        var result = new SortedDictionary<int, ShardProgress>();
        foreach (var e in await db.HashGetAllAsync(keys.Shards(generation)))
        {
            string name = e.Name.ToString();
            if (name.StartsWith("shard:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int i))
                result[i] = Parse(e.Value!, generation, name);
        }
        return result;
    }

    /// <summary>
    /// For a generation written by shards: checks that every shard finished on the same input and codebook, that the
    /// catalog was written with the generation's codebook, and the policy's coverage and empty-output limits; then
    /// records the totals and marks it complete, ready for <see cref="GenerationRegistry.PublishAsync"/>.
    /// Does nothing for a generation that is already complete (or was not written by shards).
    /// </summary>
    public async Task<GenerationMeta> FinalizeAsync(string generation, PublishPolicy policy)
    {
        var meta = GenerationMeta.FromHash(await db.HashGetAllAsync(keys.Meta(generation)), out _)
            ?? throw new PublishException($"generation '{generation}' does not exist (never written, or expired)");
        if (meta.Status != GenerationStatus.Writing) return meta;
        var shards = await ListAsync(generation);
        if (shards.Count == 0)
            throw new PublishException($"generation '{generation}' is still being written (status '{meta.Status}'); only a complete generation can be published");
        for (int i = 0; i < meta.ShardCount; i++)
        {
            if (!shards.TryGetValue(i, out var s))
                throw new PublishException($"generation '{generation}': shard {i} of {meta.ShardCount} has not started");
            if (s.Status != ShardStatus.Done)
                throw new PublishException($"generation '{generation}': shard {i} of {meta.ShardCount} has not finished (line {s.Line}, status '{s.Status}')");
            if (s.Codebook != meta.CodebookHash)
                throw new PublishException($"generation '{generation}': shard {i} used codebook {Short(s.Codebook)}, the generation has {Short(meta.CodebookHash)}");
            if (s.Input != shards[0].Input)
                throw new PublishException($"generation '{generation}': shard {i} read '{s.Input}', shard 0 read '{shards[0].Input}'");
        }
        var catalog = await GetCatalogAsync(generation) ?? throw new PublishException($"generation '{generation}': the catalog was never written (shard 0 writes it)");
        if (catalog.Codebook != meta.CodebookHash)
            throw new PublishException($"generation '{generation}': the catalog was built for codebook {Short(catalog.Codebook)}, the generation has {Short(meta.CodebookHash)}");

        long seen = shards.Values.Sum(s => s.Seen), users = shards.Values.Sum(s => s.Users), sids = shards.Values.Sum(s => s.Sids);
        long prompted = seen - shards.Values.Sum(s => s.NoHistory), empty = shards.Values.Sum(s => s.EmptyOutput);
        double coverage = seen == 0 ? 0 : (double)users / seen;
        double emptyRate = prompted == 0 ? 0 : (double)empty / prompted;
        if (coverage < policy.MinCoverage)
            throw new PublishException($"generation '{generation}': coverage {coverage * 100:F1}% ({users} of {seen} users have predictions) is below --min-coverage {policy.MinCoverage * 100:F1}%");
        if (emptyRate > policy.MaxEmptyOutputRate)
            throw new PublishException($"generation '{generation}': empty-output rate {emptyRate * 100:F2}% ({empty} of {prompted} prompted users got no SID) exceeds --max-empty-rate {policy.MaxEmptyOutputRate * 100:F2}%");

        var complete = meta with { Status = GenerationStatus.Complete, Users = users, Items = catalog.Items, Sids = sids, Completed = DateTimeOffset.UtcNow };
        var tx = db.CreateTransaction();
        tx.AddCondition(Condition.HashEqual(keys.Meta(generation), "status", GenerationStatus.Writing));
        _ = tx.HashSetAsync(keys.Meta(generation), complete.ToHash());
        if (!await tx.ExecuteAsync()) throw new PublishException($"generation '{generation}': its status changed during finalisation; retry");
        return complete;
    }

    private static string Short(string hash) => hash.Length > 12 ? hash[..12] : hash;

    private static ShardProgress Parse(string json, string generation, string field)
    {
        try { return JsonSerializer.Deserialize<ShardProgress>(json, Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new InvalidOperationException($"generation '{generation}': checkpoint '{field}' is unreadable: {e.Message}"); }
    }
}
