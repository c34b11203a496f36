using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Options;

namespace CoNRec.FilterService;

public sealed class FilterOptions
{
    public const string Section = "Filter";

    [Range(1, 65535)] public int GrpcPort { get; set; } = 50051;
    [Required] public string GrpcBindAddress { get; set; } = "0.0.0.0";
    [Range(1, 1_000_000)] public int MaxCandidates { get; set; } = 2000;
    [Range(1, 4096)] public int MaxIdBytes { get; set; } = 256;
    /// <summary>Rows of d floats (65,536 × 256 × 4 B = 64 MiB). Size it to the catalog's distinct SIDs when memory allows.</summary>
    [Range(0, 10_000_000)] public int ReconstructionCacheEntries { get; set; } = 65_536;

    /// <summary>
    /// How long self-calls warm a fresh replica before /readyz. Tiered compilation promotes a method after 30 calls plus a
    /// 100 ms delay, and OSR needs loops to run: 100 quick calls left the hot path at tier 0 and a fresh replica still
    /// turned away 16% of its first 20 s at 1,000 req/s; 2 s is where per-call time stops falling on the development box.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")] public TimeSpan WarmUpDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Before a new generation goes live, read its catalog into the caches so the switch causes no read storm.</summary>
    public bool WarmOnSwitch { get; set; } = true;
    /// <summary>Memory for catalog lookups (item_id → SID), in bytes: ~1M ids of 20 characters fit the default 128 MiB.</summary>
    [Range(0L, 64L << 30)] public long CatalogCacheBytes { get; set; } = 128L << 20;

    /// <summary>
    /// FilterCandidates calls in flight at once; past it a call answers RESOURCE_EXHAUSTED at once (the ranking stage keeps
    /// every candidate) instead of queueing into store timeouts. 0 means 8 per processor.
    /// </summary>
    [Range(0, 100_000)] public int MaxConcurrentRequests { get; set; }

    public int EffectiveMaxConcurrentRequests => MaxConcurrentRequests > 0 ? MaxConcurrentRequests : 8 * Environment.ProcessorCount;
    [Range(-1.0, 1.0)] public float DefaultThreshold { get; set; } = 0.9f;
    [RegularExpression("^(enforce|shadow|off)$")] public string DefaultMode { get; set; } = "enforce";

    /// <summary>Fallback refresh of active generation and scenes if a pub/sub notification is missed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")] public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Budget of control-plane reads (active pointer, meta, codebook blob): off the request path.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:05:00")] public TimeSpan ControlTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Budget of one RecordFeedback write; past it the call answers UNAVAILABLE and the caller retries.</summary>
    [Range(typeof(TimeSpan), "00:00:00.005", "00:00:10")] public TimeSpan FeedbackTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Guard weight of scenes that set none (score = negative − w·max(0, positive)); 0.5 was chosen on the validation
    /// splits of the evaluation (README, "Results"). A scene overrides it through the admin API.
    /// </summary>
    [Range(0.0, 2.0)] public float DefaultGuardWeight { get; set; } = 0.5f;

    /// <summary>Predicted weight of scenes that set none: how much a match with a model SID counts beside a negative the user gave.</summary>
    [Range(0.0, 1.0)] public float DefaultPredictedWeight { get; set; } = 1f;

    /// <summary>Optional directory (codebook.safetensors, catalog.jsonl, predictions.jsonl) loaded at start when nothing is active.</summary>
    public string? SeedDirectory { get; set; }
}

public sealed class AdminOptions
{
    public const string Section = "Admin";

    [Range(1, 65535)] public int Port { get; set; } = 8081;
    [Required] public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Bearer token for /admin. Prefer the Admin__Token environment variable to a command-line flag.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Budget of each store read when tuning from samples: an offline operation, so not the hot path's 25 ms; its own
    /// circuit breaker too, so a tune cannot trip the one requests use.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.01", "00:01:00")] public TimeSpan TuneReadTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Optional directory of labelled sample files (*.jsonl, *.csv) the console offers for tuning (GET /admin/v1/samples,
    /// tune's <c>sample_file</c>). Only files directly inside it are served, by name; unset, there are none.
    /// </summary>
    public string? SamplesDirectory { get; set; }
}

/// <summary>
/// TLS for both listeners, from PEM files (a Kubernetes TLS secret mounts exactly these). With <see cref="ClientCaFile"/>
/// the gRPC port also requires a client certificate signed by that CA (mTLS for the ranking stage); the admin port keeps
/// its bearer token, since operators' browsers rarely carry client certificates.
/// </summary>
public sealed class TlsOptions
{
    public const string Section = "Tls";

    public string? CertificateFile { get; set; }
    public string? KeyFile { get; set; }
    public string? ClientCaFile { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificateFile);
}

public sealed class TlsOptionsValidator : IValidateOptions<TlsOptions>
{
    public ValidateOptionsResult Validate(string? name, TlsOptions o)
    {
        if (!o.Enabled)
            return string.IsNullOrWhiteSpace(o.KeyFile) && string.IsNullOrWhiteSpace(o.ClientCaFile)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("Tls:KeyFile and Tls:ClientCaFile need Tls:CertificateFile");
        foreach (var (option, path) in new[] { ("Tls:CertificateFile", o.CertificateFile), ("Tls:KeyFile", o.KeyFile), ("Tls:ClientCaFile", o.ClientCaFile) })
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path))
                return ValidateOptionsResult.Fail($"{option} '{path}' does not exist");
        try
        {
            using var certificate = TlsCertificates.LoadServer(o);
            if (!certificate.HasPrivateKey) return ValidateOptionsResult.Fail($"Tls:CertificateFile '{o.CertificateFile}' has no private key: set Tls:KeyFile");
            if (!string.IsNullOrWhiteSpace(o.ClientCaFile)) using (TlsCertificates.LoadCa(o.ClientCaFile)) { }
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            return ValidateOptionsResult.Fail($"Tls: cannot read the certificate or key ({e.Message})");
        }
        return ValidateOptionsResult.Success;
    }
}

/// <summary>Redis TLS settings are files: a wrong mount fails at start with one line, not at the first read.</summary>
public sealed class StoreOptionsValidator : IValidateOptions<CoNRec.Store.StoreOptions>
{
    public ValidateOptionsResult Validate(string? name, CoNRec.Store.StoreOptions o)
    {
        try { _ = o.Tls(); return ValidateOptionsResult.Success; }
        catch (ArgumentException e) { return ValidateOptionsResult.Fail("Store: " + e.Message); }
    }
}

/// <summary>Refuses to start with an unauthenticated admin API reachable from other machines.</summary>
public sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions o)
    {
        if (!IPAddress.TryParse(o.BindAddress, out var address) && o.BindAddress != "localhost")
            return ValidateOptionsResult.Fail($"Admin:BindAddress '{o.BindAddress}' is not an IP address");
        bool loopback = o.BindAddress == "localhost" || IPAddress.IsLoopback(address!);
        if (!loopback && string.IsNullOrEmpty(o.Token))
            return ValidateOptionsResult.Fail($"Admin:BindAddress '{o.BindAddress}' is not loopback and no admin token is set: set --admin-token or Admin__Token, or bind admin to 127.0.0.1");
        if (o.Token is { Length: > 0 and < 16 })
            return ValidateOptionsResult.Fail("Admin:Token must be at least 16 characters");
        if (!string.IsNullOrWhiteSpace(o.SamplesDirectory) && !Directory.Exists(o.SamplesDirectory))
            return ValidateOptionsResult.Fail($"Admin:SamplesDirectory '{o.SamplesDirectory}' is not a directory");
        return ValidateOptionsResult.Success;
    }
}
