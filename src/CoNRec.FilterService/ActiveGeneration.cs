using System.Collections.Concurrent;
using CoNRec.Core;
using CoNRec.Store;
using StackExchange.Redis;

namespace CoNRec.FilterService;

/// <summary>
/// Everything a replica needs to serve one generation: its meta, the codebook it was made with (invariant 2),
/// and bounded caches of catalog lookups and normalised reconstructions. Replaced wholesale on a switch, so a
/// cache never mixes two codebooks.
/// </summary>
public sealed class ActiveGeneration
{
    private readonly RedisKeys _keys;
    private readonly string _itemKeyPrefix;

    public GenerationMeta Meta { get; }
    public Codebook Codebook { get; }
    public ReconstructionCache Reconstructions { get; }
    public CatalogCache Catalog { get; }

    /// <summary>Some real catalog item ids and user ids of this generation, for warm-up traffic that takes the real path.</summary>
    public List<string> WarmItems { get; } = [];
    public List<string> WarmUsers { get; } = [];
    public string Id => Meta.Id;

    /// <summary>Tags overlay entries resolved with this generation's codebook (see <see cref="FeedbackStore"/>).</summary>
    public uint FeedbackTag { get; }

    /// <param name="reconstructions">Reused when the previous generation had the same codebook: its rows are still valid.</param>
    public ActiveGeneration(GenerationMeta meta, Codebook codebook, RedisKeys keys, FilterOptions options, ReconstructionCache? reconstructions = null)
    {
        Meta = meta;
        Codebook = codebook;
        Reconstructions = reconstructions is not null && ReferenceEquals(reconstructions.Codebook, codebook)
            ? reconstructions
            : new ReconstructionCache(codebook, options.ReconstructionCacheEntries);
        Catalog = new CatalogCache(options.CatalogCacheBytes);
        _keys = keys;
        _itemKeyPrefix = keys.ItemBucketPrefix(meta.Id);
        FeedbackTag = FeedbackStore.CodebookTag(meta.CodebookHash);
    }

    public RedisKey UserKey(string userId) => _keys.UserKey(Meta, userId);
    public RedisKey FeedbackKey(string userId) => _keys.Feedback(userId);
    public RedisKey ItemKey(string itemId) => _itemKeyPrefix + RedisKeys.Bucket(itemId, Meta.ItemBuckets).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Normalised reconstructions of hot SIDs in one preallocated arena. Fill-once: slots are claimed until the arena is
/// full, then misses are computed on the fly (cheap: L vector adds and a norm). No eviction means no locks and no
/// torn reads, and memory is bounded by capacity × d floats.
/// </summary>
public sealed class ReconstructionCache
{
    private readonly Codebook _codebook;
    private readonly float[] _arena;
    private readonly int _capacity;
    private readonly ConcurrentDictionary<ulong, int> _slots;
    private int _next;

    public ReconstructionCache(Codebook codebook, int capacity)
    {
        _codebook = codebook;
        _capacity = capacity;
        if ((long)capacity * codebook.Dimension > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"{capacity} rows x d={codebook.Dimension} exceed one array; lower Filter:ReconstructionCacheEntries");
        _arena = new float[(long)capacity * codebook.Dimension];
        _slots = new ConcurrentDictionary<ulong, int>(Environment.ProcessorCount, Math.Min(capacity, 4096));
    }

    public int Count => _slots.Count;
    public Codebook Codebook => _codebook;
    public bool IsFull => Volatile.Read(ref _next) >= _capacity;

    public void CopyTo(ulong sid, Span<float> destination)
    {
        int d = _codebook.Dimension;
        if (_slots.TryGetValue(sid, out int slot))
        {
            _arena.AsSpan((int)((long)slot * d), d).CopyTo(destination); // slot × d fits: the arena is one array
            return;
        }
        _codebook.Reconstruct(sid, destination);
        if (Volatile.Read(ref _next) >= _capacity) return;
        int claimed = Interlocked.Increment(ref _next) - 1;
        if (claimed >= _capacity) return;
        destination[..d].CopyTo(_arena.AsSpan((int)((long)claimed * d), d));
        _slots.TryAdd(sid, claimed); // publishing after the copy: a reader never sees a half-written slot
    }
}

/// <summary>
/// item_id → packed SID, including negative entries for items the catalog does not know. Bounded in bytes (ids are
/// client strings of up to 256 bytes, so a count bound is not a memory bound): each entry is charged its id's UTF-16
/// size plus a fixed overhead for the string header, the value and the map's node. Two generations: when the young map
/// reaches half the budget it becomes the old one and the previous old map is dropped; hits in the old map are
/// promoted. Approximates LRU without per-hit bookkeeping; memory stays under the budget.
/// </summary>
public sealed class CatalogCache(long capacityBytes)
{
    public const ulong Unknown = ulong.MaxValue;

    /// <summary>String header, the ulong, the dictionary node and bucket, rounded up: measured ~70 B on .NET 10 x64.</summary>
    public const int EntryOverheadBytes = 80;

    public static long EntryBytes(string itemId) => EntryOverheadBytes + (2L * itemId.Length);

    private readonly Lock _swap = new();
    private ConcurrentDictionary<string, ulong> _young = new(StringComparer.Ordinal);
    private ConcurrentDictionary<string, ulong> _old = new(StringComparer.Ordinal);
    private long _youngBytes, _oldBytes;

    /// <summary>Bytes charged to both maps: always at most the budget.</summary>
    public long Bytes => Volatile.Read(ref _youngBytes) + Volatile.Read(ref _oldBytes);
    public int Count => _young.Count + _old.Count;
    public long CapacityBytes => capacityBytes;

    /// <summary>Warming stops before the first young→old swap, so it never pushes out what it just loaded.</summary>
    public bool WarmFull => Volatile.Read(ref _youngBytes) >= (capacityBytes / 2) - (EntryOverheadBytes + 512);

    public bool TryGet(string itemId, out ulong sid)
    {
        if (_young.TryGetValue(itemId, out sid)) return true;
        if (_old.TryGetValue(itemId, out sid))
        {
            Add(itemId, sid);
            return true;
        }
        return false;
    }

    public void Add(string itemId, ulong sid)
    {
        long bytes = EntryBytes(itemId);
        if (bytes > capacityBytes / 2) return; // an id larger than half the budget is never cached
        var young = _young;
        if (young.TryAdd(itemId, sid)) Interlocked.Add(ref _youngBytes, bytes);
        else young[itemId] = sid;
        if (Volatile.Read(ref _youngBytes) < capacityBytes / 2) return;
        lock (_swap)
        {
            if (!ReferenceEquals(young, _young)) return;
            _old = _young;
            Volatile.Write(ref _oldBytes, Volatile.Read(ref _youngBytes));
            _young = new ConcurrentDictionary<string, ulong>(StringComparer.Ordinal);
            Volatile.Write(ref _youngBytes, 0);
        }
    }
}
