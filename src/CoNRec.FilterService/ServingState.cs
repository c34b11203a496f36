using CoNRec.Core;
using CoNRec.Store;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CoNRec.FilterService;

public sealed record ServingSnapshot(
    ActiveGeneration? Generation,
    IReadOnlyDictionary<string, SceneRecord> Scenes,
    bool StoreReachable,
    bool Initialized,
    DateTimeOffset RefreshedAt);

/// <summary>
/// The replica's view of the control plane (active generation + scenes), swapped atomically as one immutable
/// snapshot so a request never sees a generation with another generation's codebook. Refreshed on pub/sub hints and
/// by polling; a failed refresh keeps the last good snapshot (the ranking stage must not notice a Redis blip).
/// </summary>
public sealed class ServingState(IConnectionMultiplexer mux, RedisKeys keys, SceneStore sceneStore, FilterEngine engine, IOptions<FilterOptions> options,
    FilterMetrics metrics, ILogger<ServingState> log)
{
    private readonly SemaphoreSlim _refreshLock = new(1, 1);
    private readonly Dictionary<string, Codebook> _codebooks = new(StringComparer.Ordinal);
    private ReconstructionCache? _lastReconstructions;
    private readonly SceneSettings _defaultScene = new(options.Value.DefaultThreshold, SceneSettings.ParseMode(options.Value.DefaultMode) ?? FilterMode.Enforce,
        options.Value.DefaultGuardWeight, options.Value.DefaultPredictedWeight);
    private volatile ServingSnapshot _current = new(null, new Dictionary<string, SceneRecord>(), false, false, DateTimeOffset.MinValue);

    public ServingSnapshot Current => _current;

    /// <summary>The scene's settings, else the stored "default" scene, else the configured default.</summary>
    public SceneSettings SceneFor(ServingSnapshot snapshot, string scene)
    {
        if (snapshot.Scenes.TryGetValue(scene, out var r)) return r.Settings;
        if (snapshot.Scenes.TryGetValue(SceneStore.DefaultScene, out var d)) return d.Settings;
        return _defaultScene;
    }

    public SceneSettings ConfiguredDefault => _defaultScene;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshLock.WaitAsync(cancellationToken);
        try
        {
            var previous = _current;
            var timeout = options.Value.ControlTimeout;
            var db = mux.GetDatabase();
            try
            {
                var activeValue = await db.StringGetAsync(keys.Active).WaitAsync(timeout, cancellationToken);
                string? activeId = activeValue.IsNullOrEmpty ? null : activeValue.ToString();
                var generation = previous.Generation;
                if (activeId is null) generation = null;
                else if (generation?.Id != activeId) generation = await LoadGenerationAsync(db, activeId, cancellationToken) ?? generation;

                var scenes = await sceneStore.GetAllAsync(options.Value.DefaultGuardWeight, options.Value.DefaultPredictedWeight).WaitAsync(timeout, cancellationToken);
                _current = new ServingSnapshot(generation, scenes, true, true, DateTimeOffset.UtcNow);
                if (generation is not null && generation != previous.Generation)
                {
                    metrics.Generation(previous.Generation?.Id, previous.Generation?.Meta.CodebookHash, generation.Id, generation.Meta.CodebookHash);
                    log.LogInformation("Serving generation {Generation} (codebook {Codebook}, {Users} users, {Items} items)",
                        generation.Id, generation.Meta.CodebookHash[..12], generation.Meta.Users, generation.Meta.Items);
                }
                metrics.Refresh(true);
            }
            catch (Exception e) when (ResilientReader.IsStoreFailure(e) && !cancellationToken.IsCancellationRequested)
            {
                if (previous.StoreReachable) log.LogWarning("Store unreachable; serving the last known state: {Message}", e.Message);
                _current = previous with { StoreReachable = false, Initialized = true };
                metrics.Refresh(false);
            }
        }
        finally
        {
            _refreshLock.Release();
        }
    }

    private async Task<ActiveGeneration?> LoadGenerationAsync(IDatabase db, string id, CancellationToken cancellationToken)
    {
        var timeout = options.Value.ControlTimeout;
        var entries = await db.HashGetAllAsync(keys.Meta(id)).WaitAsync(timeout, cancellationToken);
        var meta = GenerationMeta.FromHash(entries, out var problem);
        if (meta is null)
        {
            log.LogError("Active generation {Generation} has unusable meta ({Problem}); keeping the previous one", id, problem);
            return null;
        }
        if (!_codebooks.TryGetValue(meta.CodebookHash, out var codebook))
        {
            var key = keys.Codebook(meta.CodebookHash);
            var blob = await db.StringGetAsync(key).WaitAsync(timeout, cancellationToken);
            if (blob.IsNull)
            {
                log.LogError("Codebook {Hash} of generation {Generation} is missing; keeping the previous generation", meta.CodebookHash, id);
                return null;
            }
            try { codebook = Codebook.FromBytes((byte[])blob!, key.ToString()); }
            catch (FormatException e)
            {
                log.LogError("Codebook {Hash} of generation {Generation} is malformed ({Message}); keeping the previous generation", meta.CodebookHash, id, e.Message);
                return null;
            }
            // Invariant 2: decode a generation's SIDs only with the codebook it names.
            if (codebook.ContentHash != meta.CodebookHash || codebook.Levels != meta.Levels || codebook.CodesPerLevel != meta.CodesPerLevel)
            {
                log.LogError("Codebook blob {Hash} does not match generation {Generation}'s meta; keeping the previous generation", meta.CodebookHash, id);
                return null;
            }
            if (_codebooks.Count >= 2) _codebooks.Clear(); // bounded: the active codebook and one neighbour for rollbacks
            _codebooks[meta.CodebookHash] = codebook;
        }
        var generation = new ActiveGeneration(meta, codebook, keys, options.Value, _lastReconstructions);
        _lastReconstructions = generation.Reconstructions;
        var sample = new List<ulong>(512);
        if (options.Value.WarmOnSwitch) await WarmAsync(db, generation, sample, cancellationToken);
        await engine.WarmUpAsync(generation, sample, cancellationToken);
        return generation;
    }

    /// <summary>
    /// Reads the catalog (up to the cache's capacity) into the new generation's caches before it is published to
    /// requests. Without this, the first seconds after a switch or a cold start send every candidate to Redis, the
    /// 25 ms read budget cuts those batches off, and requests fail open until the caches fill (seen at 1,000 RPS:
    /// ~6 s of fail-open on a switch). A failure here only means a cold start, never a refused generation.
    /// </summary>
    private async Task WarmAsync(IDatabase db, ActiveGeneration generation, List<ulong> sample, CancellationToken cancellationToken)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        int loaded = 0;
        var one = new ulong[1];
        var scratch = new float[generation.Codebook.Dimension];
        const int window = 256;
        try
        {
            for (int b = 0; b < generation.Meta.ItemBuckets && !generation.Catalog.WarmFull; b += window)
            {
                var tasks = new Task<HashEntry[]>[Math.Min(window, generation.Meta.ItemBuckets - b)];
                for (int i = 0; i < tasks.Length; i++) tasks[i] = db.HashGetAllAsync(keys.ItemBucket(generation.Id, b + i));
                await Task.WhenAll(tasks).WaitAsync(options.Value.ControlTimeout, cancellationToken);
                foreach (var t in tasks)
                {
                    foreach (var e in t.Result)
                    {
                        if (generation.Catalog.WarmFull) break;
                        if (SidSetCodec.TryDecode((byte[])e.Value!, generation.Codebook.Layout, one, out int n) is not null || n != 1) continue;
                        generation.Catalog.Add(e.Name!, one[0]);
                        if (sample.Count < 512) sample.Add(one[0]);
                        if (generation.WarmItems.Count < 500) generation.WarmItems.Add(e.Name!);
                        if (!generation.Reconstructions.IsFull) generation.Reconstructions.CopyTo(one[0], scratch);
                        loaded++;
                    }
                }
            }
            // A few real users (one bucket's fields), so warm-up calls read and score a real profile.
            for (int b = 0; b < Math.Min(generation.Meta.UserBuckets, 4) && generation.WarmUsers.Count < 64; b++)
                foreach (var user in await db.HashKeysAsync(keys.UserBucket(generation.Meta, b)).WaitAsync(options.Value.ControlTimeout, cancellationToken))
                    if (generation.WarmUsers.Count < 64) generation.WarmUsers.Add(user!);
            log.LogInformation("Warmed generation {Generation}: {Items} catalog items, {Rows} reconstructions in {Ms} ms",
                generation.Id, loaded, generation.Reconstructions.Count, sw.ElapsedMilliseconds);
        }
        catch (Exception e) when (ResilientReader.IsStoreFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            log.LogWarning("Warming generation {Generation} stopped after {Items} items: {Message}", generation.Id, loaded, e.Message);
        }
    }
}

/// <summary>Keeps <see cref="ServingState"/> fresh: pub/sub hints for speed, polling for a replica that missed one.</summary>
public sealed class StateRefresher(
    ServingState state, IConnectionMultiplexer mux, RedisKeys keys, GenerationRegistry registry, IOptions<FilterOptions> options,
    IOptions<StoreOptions> storeOptions, ILogger<StateRefresher> log) : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SeedIfEmptyAsync(stoppingToken);
        var subscriber = mux.GetSubscriber();
        try { await subscriber.SubscribeAsync(keys.Events, (_, _) => Signal()); }
        catch (RedisException e) { log.LogWarning("Subscribe failed ({Message}); relying on polling until reconnect", e.Message); }
        mux.ConnectionRestored += (_, _) => Signal();

        while (!stoppingToken.IsCancellationRequested)
        {
            try { await state.RefreshAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e) { log.LogError(e, "State refresh failed"); }
            try { await _signal.WaitAsync(options.Value.PollInterval, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    private void Signal()
    {
        try { _signal.Release(); }
        catch (SemaphoreFullException) { } // a refresh is already pending
    }

    private async Task SeedIfEmptyAsync(CancellationToken cancellationToken)
    {
        var dir = options.Value.SeedDirectory;
        if (string.IsNullOrEmpty(dir)) return;
        try
        {
            if (await registry.GetActiveIdAsync() is { } active)
            {
                log.LogInformation("Seed skipped: generation {Generation} is already active", active);
                return;
            }
            var loader = new GenerationLoader(mux, keys, storeOptions.Value, m => log.LogInformation("seed: {Message}", m));
            var result = await loader.LoadAsync(Path.Combine(dir, "codebook.safetensors"), Path.Combine(dir, "catalog.jsonl"),
                Path.Combine(dir, "predictions.jsonl"), publish: true, cancellationToken: cancellationToken);
            log.LogInformation("Seeded generation {Generation} from {Dir}: {Users} users, {Items} items", result.Meta.Id, dir, result.Meta.Users, result.Meta.Items);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // A bad seed must not take the service down: it keeps serving (fail-open) and says why.
            log.LogError("Seeding from {Dir} failed: {Message}", dir, e.Message);
        }
    }
}
