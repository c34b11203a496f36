using System.ComponentModel.DataAnnotations;

namespace CoNRec.Store;

public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>host:port of Redis (or a full StackExchange.Redis configuration string). Empty: embedded Garnet.</summary>
    public string? Redis { get; set; }

    /// <summary>PEM CA that signed Redis's TLS certificate; set, the connection uses TLS and trusts only this CA.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>PEM client certificate and key, for a Redis that requires client certificates (tls-auth-clients yes).</summary>
    public string? TlsClientCertificateFile { get; set; }

    public string? TlsClientKeyFile { get; set; }

    public RedisTls? Tls() => RedisTls.From(TlsCaFile, TlsClientCertificateFile, TlsClientKeyFile);

    /// <summary>Loopback port of the embedded Garnet server when <see cref="Redis"/> is empty.</summary>
    [Range(1, 65535)]
    public int EmbeddedPort { get; set; } = 6380;

    [RegularExpression("^[A-Za-z0-9_.-]{1,32}$")]
    public string KeyPrefix { get; set; } = "conrec";

    /// <summary>Budget of one hot-path Redis read; the ranking stage must never wait longer on Redis.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")] // Polly's timeout strategy accepts 10 ms at least
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromMilliseconds(25);

    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.5;

    [Range(2, 100_000)]
    public int BreakerMinimumThroughput { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:00.5", "00:10:00")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(5);

    [Range(typeof(TimeSpan), "00:00:00.5", "00:10:00")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a replaced generation stays readable (and can be rolled back to) after a switch.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Keys of a generation still being written expire after this, so a crashed writer leaves nothing behind.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan WritingTtl { get; set; } = TimeSpan.FromHours(48);

    /// <summary>Mean users per predictions hash; small enough to stay a listpack (see README, memory).</summary>
    [Range(1, 100_000)]
    public int UsersPerBucket { get; set; } = 64;

    [Range(1, 100_000)]
    public int ItemsPerBucket { get; set; } = 64;

    [Range(1, 1_000_000)]
    public int AuditLogLength { get; set; } = 10_000;

    /// <summary>Same-day feedback kept per user (the most recent); the overlay is read on every request, so keep it small.</summary>
    [Range(1, 255)]
    public int FeedbackMaxEntries { get; set; } = 32;

    /// <summary>An overlay untouched this long is dropped; the nightly generation normally supersedes it sooner.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan FeedbackTtl { get; set; } = TimeSpan.FromHours(48);
}
