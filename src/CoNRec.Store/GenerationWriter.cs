using System.Collections;
using CoNRec.Core;
using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// Writes one generation: codebook blob, catalog and per-user predictions, all pipelined. Every key it creates
/// carries <see cref="StoreOptions.WritingTtl"/> until publish, so a writer that dies leaves nothing permanent
/// and nothing visible: readers only ever follow the active pointer.
/// </summary>
public sealed class GenerationWriter
{
    /// <summary>Fields per batch: ~4 per HSET at 1M users, ~10 MB of values and ids buffered at most.</summary>
    private const int BatchFields = 65_536;

    private readonly IDatabase _db;
    private readonly RedisKeys _keys;
    private readonly StoreOptions _options;
    private readonly FieldBatch _userBatch, _itemBatch;
    private (List<Task<RedisResult>> Sent, bool IsUser) _inFlight = ([], false);
    private readonly List<Task> _pendingExpiries = [];
    private readonly BitArray _userBucketsTouched;
    private readonly BitArray _itemBucketsTouched;
    private readonly byte[] _scratch;
    private long _users, _items, _sids;

    public GenerationMeta Meta { get; private set; }
    public Codebook Codebook { get; }
    public long Users => _users;
    public long Items => _items;

    private GenerationWriter(IDatabase db, RedisKeys keys, StoreOptions options, GenerationMeta meta, Codebook codebook)
    {
        _db = db;
        _keys = keys;
        _options = options;
        Meta = meta;
        Codebook = codebook;
        _userBucketsTouched = new BitArray(meta.UserBuckets);
        _itemBucketsTouched = new BitArray(meta.ItemBuckets);
        _scratch = new byte[SidSetCodec.ProfileLength(codebook.Layout, SidSetCodec.MaxCount, SidSetCodec.MaxCount, SidSetCodec.MaxCount)];
        _userBatch = new FieldBatch(db, b => keys.UserBucket(Meta, b), BatchFields);
        _itemBatch = new FieldBatch(db, b => keys.ItemBucket(Meta.Id, b), BatchFields / 4);
    }

    public static string NewGenerationId(DateTimeOffset now) =>
        $"{now:yyyyMMdd'T'HHmmss'Z'}-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3))}";

    /// <summary>Creates the generation (status 'writing') and stores its codebook blob by content hash.</summary>
    /// <param name="asOf">The histories' snapshot time (see <see cref="GenerationMeta.AsOf"/>); null means the creation time.</param>
    public static async Task<GenerationWriter> BeginAsync(IDatabase db, RedisKeys keys, StoreOptions options, Codebook codebook,
        long expectedUsers, long expectedItems, string source, string? id = null, int shardCount = 1, DateTimeOffset? asOf = null)
    {
        var meta = NewMeta(options, codebook, expectedUsers, expectedItems, source, id, shardCount, asOf);
        await StoreCodebookAsync(db, keys, options, codebook);
        var metaKey = keys.Meta(meta.Id);
        if (!await db.HashSetAsync(metaKey, "id", meta.Id, When.NotExists))
            throw new InvalidOperationException($"generation '{meta.Id}' already exists");
        await db.HashSetAsync(metaKey, meta.ToHash());
        await db.KeyExpireAsync(metaKey, options.WritingTtl);
        await db.SortedSetAddAsync(keys.Generations, meta.Id, meta.Created.ToUnixTimeMilliseconds());
        return new GenerationWriter(db, keys, options, meta, codebook);
    }

    /// <summary>
    /// Creates generation <paramref name="id"/> or joins it: how the shards of one generate job share a generation.
    /// The first shard creates it (atomically, so two starting together cannot both); the others, and a restarted
    /// shard, join only if it is still being written with the same codebook and shard count. Bucket counts come
    /// from the stored meta so every shard hashes users into the same buckets.
    /// </summary>
    public static async Task<GenerationWriter> OpenShardedAsync(IDatabase db, RedisKeys keys, StoreOptions options, Codebook codebook,
        string id, int shardCount, long expectedUsers, long expectedItems, string source, DateTimeOffset? asOf = null)
    {
        var fresh = NewMeta(options, codebook, expectedUsers, expectedItems, source, id, shardCount, asOf);
        await StoreCodebookAsync(db, keys, options, codebook);
        var tx = db.CreateTransaction();
        tx.AddCondition(Condition.KeyNotExists(keys.Meta(id)));
        _ = tx.HashSetAsync(keys.Meta(id), fresh.ToHash());
        _ = tx.KeyExpireAsync(keys.Meta(id), options.WritingTtl);
        _ = tx.HashSetAsync(keys.Shards(id), "created", fresh.Created.ToString("O"));
        _ = tx.KeyExpireAsync(keys.Shards(id), options.WritingTtl);
        _ = tx.SortedSetAddAsync(keys.Generations, id, fresh.Created.ToUnixTimeMilliseconds());
        if (await tx.ExecuteAsync()) return new GenerationWriter(db, keys, options, fresh, codebook);

        var existing = GenerationMeta.FromHash(await db.HashGetAllAsync(keys.Meta(id)), out var problem)
            ?? throw new InvalidOperationException($"generation '{id}' exists but its meta is unreadable ({problem})");
        if (existing.Status != GenerationStatus.Writing)
            throw new InvalidOperationException($"generation '{id}' is '{existing.Status}'; shards can only join a generation that is still being written");
        if (existing.CodebookHash != codebook.ContentHash)
            throw new InvalidOperationException($"generation '{id}' was started with codebook {existing.CodebookHash[..12]}, this shard has {codebook.ContentHash[..12]}");
        if (existing.ShardCount != shardCount)
            throw new InvalidOperationException($"generation '{id}' was started with --shard-count {existing.ShardCount}, this shard says {shardCount}");
        return new GenerationWriter(db, keys, options, existing, codebook);
    }

    private static GenerationMeta NewMeta(StoreOptions options, Codebook codebook, long expectedUsers, long expectedItems, string source, string? id, int shardCount,
        DateTimeOffset? asOf)
    {
        var now = DateTimeOffset.UtcNow;
        return new GenerationMeta
        {
            Id = id ?? NewGenerationId(now),
            Status = GenerationStatus.Writing,
            CodebookHash = codebook.ContentHash,
            Levels = codebook.Levels,
            CodesPerLevel = codebook.CodesPerLevel,
            Dimension = codebook.Dimension,
            UserBuckets = RedisKeys.UserBucketCount(expectedUsers, options.UsersPerBucket),
            UserKeyLayout = RedisKeys.CurrentUserLayout,
            AsOf = asOf,
            ItemBuckets = RedisKeys.BucketCount(expectedItems, options.ItemsPerBucket),
            Created = now,
            Source = source,
            ShardCount = shardCount,
        };
    }

    private static async Task StoreCodebookAsync(IDatabase db, RedisKeys keys, StoreOptions options, Codebook codebook)
    {
        var cbKey = keys.Codebook(codebook.ContentHash);
        // NX: a codebook shared with a live generation must keep its (absent) TTL.
        if (!await db.StringSetAsync(cbKey, codebook.SourceBytes, options.WritingTtl, When.NotExists))
            await db.KeyExpireAsync(cbKey, options.WritingTtl, ExpireWhen.GreaterThanCurrentExpiry);
    }

    public async ValueTask AddCatalogAsync(CatalogEntry entry)
    {
        int bucket = RedisKeys.Bucket(entry.ItemId, Meta.ItemBuckets);
        var key = _keys.ItemBucket(Meta.Id, bucket);
        int n = SidSetCodec.Encode(Codebook.Layout, [entry.Sid], _scratch);
        _itemBatch.Add(bucket, entry.ItemId, _scratch.AsSpan(0, n));
        TouchBucket(_itemBucketsTouched, bucket, key);
        if (_itemBatch.Full) await SendAsync(_itemBatch, isUser: false);
    }

    public ValueTask AddPredictionsAsync(string userId, ReadOnlyMemory<ulong> sids) => AddProfileAsync(userId, sids, default, default);

    /// <summary>
    /// Writes a user's negative profile: the model's SIDs plus their recent explicit negatives and recent positives
    /// (the guard). A profile with nothing on its negative side is not stored: it is the same as no predictions.
    /// </summary>
    public async ValueTask AddProfileAsync(string userId, ReadOnlyMemory<ulong> predicted, ReadOnlyMemory<ulong> negatives, ReadOnlyMemory<ulong> positives)
    {
        if (predicted.Length == 0 && negatives.Length == 0) return;
        int bucket = RedisKeys.UserBucketOf(Meta, userId);
        int n = SidSetCodec.EncodeProfile(Codebook.Layout, predicted.Span, negatives.Span, positives.Span, _scratch);
        _sids += predicted.Length;
        _userBatch.Add(bucket, userId, _scratch.AsSpan(0, n));
        if (!_userBucketsTouched[bucket]) TouchBucket(_userBucketsTouched, bucket, _keys.UserBucket(Meta, bucket));
        if (_userBatch.Full) await SendAsync(_userBatch, isUser: true);
    }

    // The EXPIRE goes after the bucket's first HSET in the same connection, so it never meets a missing key.
    private void TouchBucket(BitArray touched, int bucket, RedisKey key)
    {
        if (touched[bucket]) return;
        touched[bucket] = true;
        _touchedKeys.Add(key);
    }

    /// <summary>
    /// Sends a full batch and then waits for the previous one: parsing the next batch overlaps Redis applying this one,
    /// and at most two batches are ever buffered.
    /// </summary>
    private async Task SendAsync(FieldBatch batch, bool isUser)
    {
        var sent = batch.Send();
        ExpireTouched(); // after the HSETs that create the keys: commands on one connection keep their order
        var previous = _inFlight;
        _inFlight = (sent, isUser);
        await CountAsync(previous.Sent, previous.IsUser);
    }

    private readonly List<RedisKey> _touchedKeys = [];

    private void ExpireTouched()
    {
        foreach (var key in _touchedKeys) _pendingExpiries.Add(_db.KeyExpireAsync(key, _options.WritingTtl));
        _touchedKeys.Clear();
    }

    // HSET answers how many fields were new, so counts are of distinct ids even if a file repeats one.
    private async Task CountAsync(List<Task<RedisResult>> sent, bool isUser)
    {
        long added = 0;
        foreach (var t in sent) added += (long)await t.ConfigureAwait(false);
        if (isUser) _users += added; else _items += added;
    }

    public async Task FlushAsync()
    {
        var previous = _inFlight;
        _inFlight = ([], false);
        await CountAsync(previous.Sent, previous.IsUser);
        var items = _itemBatch.Send();
        var users = _userBatch.Send();
        ExpireTouched();
        await CountAsync(items, isUser: false);
        await CountAsync(users, isUser: true);
        await Task.WhenAll(_pendingExpiries);
        _pendingExpiries.Clear();
    }

    /// <summary>Flushes and marks the generation complete (still invisible until published).</summary>
    public async Task<GenerationMeta> CompleteAsync()
    {
        await FlushAsync();
        Meta = Meta with
        {
            Status = GenerationStatus.Complete,
            Users = _users,
            Items = _items,
            Sids = _sids,
            UserBucketsUsed = CountSet(_userBucketsTouched),
            ItemBucketsUsed = CountSet(_itemBucketsTouched),
            Completed = DateTimeOffset.UtcNow,
        };
        await _db.HashSetAsync(_keys.Meta(Meta.Id), Meta.ToHash());
        return Meta;
    }

    /// <summary>Best-effort removal of a failed generation; its TTLs clean up whatever this misses.</summary>
    public async Task AbortAsync()
    {
        try { await FlushAsync(); } catch (RedisException) { }
        await GenerationRegistry.DeleteKeysAsync(_db, _keys, Meta);
    }

    private static int CountSet(BitArray bits)
    {
        int n = 0;
        for (int i = 0; i < bits.Length; i++) if (bits[i]) n++;
        return n;
    }
}
