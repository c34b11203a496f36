using StackExchange.Redis;

namespace CoNRec.Store;

public static class RedisConnection
{
    /// <summary>
    /// One multiplexer per process. AbortOnConnectFail=false lets a replica start (and fail open) while Redis is down
    /// and reconnect by itself; FailFast backlog makes commands fail immediately while disconnected instead of queueing
    /// behind a dead socket, so the read path's timeout never has to fire for a known outage.
    /// </summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(string configuration, string clientName = "conrec", bool allowAdmin = false)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.AllowAdmin |= allowAdmin; // loaders check listpack limits with CONFIG GET/SET
        options.ClientName ??= clientName;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 2000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 2000);
        options.KeepAlive = 5;
        options.ReconnectRetryPolicy = new ExponentialRetry(100, 2000);
        options.BacklogPolicy = BacklogPolicy.FailFast;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }
}
