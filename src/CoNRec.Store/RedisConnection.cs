using StackExchange.Redis;

namespace CoNRec.Store;

/// <summary>
/// TLS to Redis from PEM files, as cert-manager and managed Redis services hand them out: the CA that signed the
/// server's certificate (only that CA is trusted, not the system store) and, for servers that require client
/// certificates (redis-server's default tls-auth-clients yes), a client certificate and key.
/// </summary>
public sealed record RedisTls(string CaFile, string? ClientCertificateFile = null, string? ClientKeyFile = null)
{
    /// <summary>Null when no CA is given (plain TCP, or <c>ssl=true</c> in the configuration string with the system trust store).</summary>
    public static RedisTls? From(string? caFile, string? certificateFile, string? keyFile)
    {
        if (string.IsNullOrWhiteSpace(caFile))
        {
            if (!string.IsNullOrWhiteSpace(certificateFile) || !string.IsNullOrWhiteSpace(keyFile))
                throw new ArgumentException("a Redis client certificate needs the CA too (TlsCaFile / --redis-ca)");
            return null;
        }
        var tls = new RedisTls(caFile, NullIfBlank(certificateFile), NullIfBlank(keyFile));
        tls.Validate();
        return tls;
    }

    private static string? NullIfBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>Names the missing file, so a wrong secret mount fails at start with one line, not at the first read.</summary>
    public void Validate()
    {
        if (!File.Exists(CaFile)) throw new ArgumentException($"Redis TLS CA file '{CaFile}' does not exist");
        if ((ClientCertificateFile is null) != (ClientKeyFile is null))
            throw new ArgumentException("a Redis client certificate and its key go together: set both or neither");
        if (ClientCertificateFile is not null && !File.Exists(ClientCertificateFile)) throw new ArgumentException($"Redis TLS client certificate '{ClientCertificateFile}' does not exist");
        if (ClientKeyFile is not null && !File.Exists(ClientKeyFile)) throw new ArgumentException($"Redis TLS client key '{ClientKeyFile}' does not exist");
    }

    internal void Apply(ConfigurationOptions options)
    {
        options.Ssl = true;
        options.TrustIssuer(CaFile);
        if (ClientCertificateFile is not null) options.SetUserPemCertificate(ClientCertificateFile, ClientKeyFile);
    }
}

public static class RedisConnection
{
    /// <summary>
    /// One multiplexer per process. AbortOnConnectFail=false lets a replica start (and fail open) while Redis is down
    /// and reconnect by itself; FailFast backlog makes commands fail immediately while disconnected instead of queueing
    /// behind a dead socket, so the read path's timeout never has to fire for a known outage.
    /// </summary>
    public static async Task<ConnectionMultiplexer> ConnectAsync(string configuration, string clientName = "conrec", bool allowAdmin = false, RedisTls? tls = null)
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
        tls?.Apply(options);
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>The configuration as it may be logged: endpoints and flags, never a password.</summary>
    public static string Describe(string configuration)
    {
        try { return ConfigurationOptions.Parse(configuration).ToString(includePassword: false); }
        catch (ArgumentException) { return "(unparseable Redis configuration)"; }
    }
}
