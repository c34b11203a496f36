using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// The publish step every side shares (the batch CLI, the admin API's rollback, the demo): finalise a generation written
/// by <c>generate</c> shards (a no-op for one written by <c>load</c>), then validate and switch to it atomically.
/// </summary>
public static class GenerationPublisher
{
    public static async Task<GenerationMeta> PublishAsync(IDatabase db, RedisKeys keys, StoreOptions options, string generation, PublishPolicy? policy = null,
        string actor = "unknown")
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentException.ThrowIfNullOrEmpty(generation);
        await new GenerationShards(db, keys).FinalizeAsync(generation, policy ?? new PublishPolicy());
        return await new GenerationRegistry(db, keys, options).PublishAsync(generation, actor);
    }
}
