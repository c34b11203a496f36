using System.Net;
using CoNRec.Store;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Prometheus;
using StackExchange.Redis;

namespace CoNRec.FilterService;

/// <summary>
/// The service's wiring as ASP.NET Core extension methods (in the style of eShop's Basket.API): <see cref="AddFilterService"/>
/// registers options (validated once at start), the store (the Redis connection, or an embedded Garnet, owned and
/// disposed by the host), the store classes handlers receive by injection, gRPC, health and metrics;
/// <see cref="MapFilterService"/> maps gRPC on its port and admin HTTP on its own.
/// </summary>
public static class FilterServiceExtensions
{
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--grpc-port"] = "Filter:GrpcPort",
        ["--grpc-bind"] = "Filter:GrpcBindAddress",
        ["--admin-port"] = "Admin:Port",
        ["--admin-bind"] = "Admin:BindAddress",
        ["--admin-token"] = "Admin:Token",
        ["--admin-samples"] = "Admin:SamplesDirectory",
        ["--redis"] = "Store:Redis",
        ["--redis-ca"] = "Store:TlsCaFile",
        ["--tls-cert"] = "Tls:CertificateFile",
        ["--tls-key"] = "Tls:KeyFile",
        ["--tls-client-ca"] = "Tls:ClientCaFile",
        ["--embedded-redis-port"] = "Store:EmbeddedPort",
        ["--seed"] = "Filter:SeedDirectory",
        ["--max-candidates"] = "Filter:MaxCandidates",
    };

    public static WebApplicationBuilder AddFilterService(this WebApplicationBuilder builder, string[] args)
    {
        builder.Configuration.AddEnvironmentVariables().AddCommandLine(args, SwitchMappings);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        // Information is for state changes (generations, scenes, the store): per-request lines go to Debug, ours, which
        // never carry a query string (a token sent as ?access_token= must not reach a log). ASP.NET Core's own
        // request-start line logs the full URL, so it is off at every level; so is the host's failed-start dump, which
        // RunAsync reports as one line.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // A provider-specific level (Logging:Console:LogLevel:Default=Debug) would outrank those general rules, so the same
        // two are added for every provider too: the URL-logging category stays off whatever the configuration says.
        builder.Services.AddOptions<LoggerFilterOptions>().PostConfigure<IEnumerable<ILoggerProvider>>((o, providers) =>
        {
            foreach (var provider in providers)
                foreach (var category in new[] { "Microsoft.AspNetCore.Hosting.Diagnostics", "Microsoft.Extensions.Hosting.Internal.Host" })
                    o.Rules.Add(new LoggerFilterRule(provider.GetType().FullName, category, LogLevel.None, null));
        });
        // Framework lines per request (routing, result writers, connections) would drown the service's own Debug line.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc.AspNetCore.Server", LogLevel.Warning);
        var services = builder.Services;

        services.AddOptions<FilterOptions>().Bind(builder.Configuration.GetSection(FilterOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<AdminOptions>().Bind(builder.Configuration.GetSection(AdminOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.AddOptions<StoreOptions>().Bind(builder.Configuration.GetSection(StoreOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<StoreOptions>, StoreOptionsValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<StoreOptions>>().Value);
        services.AddOptions<TlsOptions>().Bind(builder.Configuration.GetSection(TlsOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TlsOptions>, TlsOptionsValidator>();

        // Endpoints come from the validated options: the gRPC port speaks HTTP/2 only, the admin port HTTP/1.1.
        // With Tls:CertificateFile both ports speak TLS (gRPC over h2 with ALPN); Tls:ClientCaFile adds mTLS on the gRPC port.
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<FilterOptions>, IOptions<AdminOptions>, IOptions<TlsOptions>>((k, filter, admin, tls) =>
        {
            k.Listen(ParseAddress(filter.Value.GrpcBindAddress), filter.Value.GrpcPort, o =>
            {
                o.Protocols = HttpProtocols.Http2;
                if (tls.Value.Enabled) o.UseHttps(https => TlsCertificates.Configure(https, tls.Value, requireClientCertificate: true));
            });
            k.Listen(ParseAddress(admin.Value.BindAddress), admin.Value.Port, o =>
            {
                o.Protocols = HttpProtocols.Http1;
                if (tls.Value.Enabled) o.UseHttps(https => TlsCertificates.Configure(https, tls.Value, requireClientCertificate: false));
            });
            k.Limits.MaxRequestBodySize = AdminEndpoints.MaxBodyBytes;
        });

        // The store: a Redis connection string, or (none given) an in-process Garnet on loopback reached through the very
        // same client. Both are singletons the container disposes at shutdown; StoreConnection starts them with the host.
        services.AddSingleton<StoreEndpoint>();
        services.AddSingleton<IConnectionMultiplexer>(sp => sp.GetRequiredService<StoreEndpoint>().Connect());
        services.AddSingleton(sp => sp.GetRequiredService<IConnectionMultiplexer>().GetDatabase());
        services.AddSingleton(sp => new RedisKeys(sp.GetRequiredService<StoreOptions>().KeyPrefix));
        services.AddSingleton<SceneStore>();
        services.AddSingleton<GenerationRegistry>();
        services.AddSingleton<FeedbackStore>();
        services.AddSingleton<FilterMetrics>();
        services.AddSingleton(sp => new ResilientReader(sp.GetRequiredService<IDatabase>(), sp.GetRequiredService<StoreOptions>(), sp.GetRequiredService<FilterMetrics>()));
        services.AddSingleton(sp => new AdminStoreReader(new ResilientReader(sp.GetRequiredService<IDatabase>(),
            new StoreOptions { ReadTimeout = sp.GetRequiredService<IOptions<AdminOptions>>().Value.TuneReadTimeout, BreakerMinimumThroughput = 100 })));
        services.AddSingleton<SampleFiles>();
        services.AddSingleton<ServingState>();
        services.AddSingleton<FilterEngine>();
        services.AddSingleton<ConcurrencyGate>();
        services.AddHostedService<StoreConnection>();
        services.AddHostedService<StateRefresher>();
        services.AddSingleton<TransportWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<TransportWarmUp>());

        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        services.AddGrpc(o => o.MaxReceiveMessageSize = 16 << 20);
        services.AddGrpcReflection();
        services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        services.AddGrpcHealthChecks();
        return builder;
    }

    public static WebApplication MapFilterService(this WebApplication app)
    {
        var admin = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value;
        var requests = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CoNRec.FilterService.Requests");
        V1.NegativeFilter.ParseFailureLog = requests;
        app.Use(async (context, next) =>
        {
            if (!requests.IsEnabled(LogLevel.Debug)) { await next(context); return; }
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            await next(context);
            requests.LogDebug("{Method} {Path} on :{Port} -> {Status} in {Ms:F1} ms", context.Request.Method, context.Request.Path.Value,
                context.Connection.LocalPort, context.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        });
        app.UseRouting();
        // Admin endpoints answer only on the admin port and gRPC only on the gRPC port; the Host header is not trusted for this.
        app.Use((context, next) =>
        {
            var endpoint = context.GetEndpoint();
            if (endpoint is null) return next(context);
            bool adminEndpoint = endpoint.Metadata.GetMetadata<AdminPortOnly>() is not null;
            // Routing's own "405 Method Not Allowed" endpoint (with its Allow header) answers a known admin path asked with
            // the wrong method; it carries no metadata of ours, so let it through on the admin port only.
            if (!adminEndpoint && context.Connection.LocalPort == admin.Port && endpoint.DisplayName?.StartsWith("405 ", StringComparison.Ordinal) == true)
                return next(context);
            if (adminEndpoint != (context.Connection.LocalPort == admin.Port))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });

        app.MapGrpcService<NegativeFilterService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();

        var adminRoutes = app.MapGroup("").WithMetadata(new AdminPortOnly());
        adminRoutes.MapAdmin();
        adminRoutes.MapAdminConsole();
        adminRoutes.MapMetrics("/metrics");
        adminRoutes.MapGet("/healthz", () => Results.Text("ok"));
        adminRoutes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    private static IPAddress ParseAddress(string address) =>
        address == "localhost" ? IPAddress.Loopback : IPAddress.Parse(address);

    private sealed class AdminPortOnly;
}

/// <summary>The reader admin tuning uses: the store with a longer budget and a breaker of its own.</summary>
public sealed record AdminStoreReader(ResilientReader Reader);

/// <summary>The store this replica talks to: the configured Redis, or an embedded Garnet started on first use.</summary>
public sealed class StoreEndpoint(IOptions<StoreOptions> options) : IDisposable
{
    private EmbeddedGarnet? _garnet;

    public string Configuration { get; private set; } = "";
    public bool Embedded => _garnet is not null;

    public ConnectionMultiplexer Connect()
    {
        var store = options.Value;
        string redis = store.Redis ?? "";
        if (string.IsNullOrWhiteSpace(redis))
        {
            _garnet = EmbeddedGarnet.Start(store.EmbeddedPort);
            redis = _garnet.Endpoint;
        }
        Configuration = RedisConnection.Describe(redis); // what the log shows: never the password
        // AbortOnConnectFail=false inside: a replica starts (and fails open) while Redis is down.
        return RedisConnection.ConnectAsync(redis, "conrec-filter", tls: store.Tls()).GetAwaiter().GetResult();
    }

    public void Dispose() => _garnet?.Dispose();
}

/// <summary>Connects the store when the host starts (not on the first request), and says where it is.</summary>
public sealed class StoreConnection(IConnectionMultiplexer mux, StoreEndpoint endpoint, IOptions<AdminOptions> admin, ILogger<StoreConnection> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        log.LogInformation("Store: {Store} ({State})", endpoint.Embedded ? $"embedded Garnet on {endpoint.Configuration}" : endpoint.Configuration,
            mux.IsConnected ? "connected" : "not reachable yet; serving fail-open until it is");
        if (string.IsNullOrEmpty(admin.Value.Token))
            log.LogWarning("Admin API on {Bind}:{Port} has no token (loopback only)", admin.Value.BindAddress, admin.Value.Port);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Builds and runs the service; what Program.cs, the demo and the tests call.</summary>
public static class FilterServiceHost
{
    /// <summary>
    /// The app, built and mapped, with every option already validated: a bad option throws
    /// <see cref="OptionsValidationException"/> here, before anything binds a port or connects.
    /// </summary>
    /// <param name="configure">For tests: a last word on the builder (e.g. a log capture), after the service's own wiring.</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // StackExchange.Redis completes on the thread pool: a burst must not wait for the pool's slow thread injection
        // (0.5 s per thread), or reads time out while Redis itself is idle.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.AddFilterService(args);
        configure?.Invoke(builder);
        var app = builder.Build();
        app.Services.GetRequiredService<IStartupValidator>().Validate();
        return app.MapFilterService();
    }

    /// <summary>
    /// Program.cs: a start-up problem (an invalid option, an unsafe admin bind, a port in use) is one line on stderr
    /// naming the option, and exit code 1 — no stack trace, no abort.
    /// </summary>
    public static Task<int> RunAsync(string[] args) => RunAsync(args, Console.Error);

    public static async Task<int> RunAsync(string[] args, TextWriter stderr)
    {
        WebApplication app;
        try { app = Build(args); }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) stderr.WriteLine($"error: {failure}");
            return 1;
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException)
        {
            stderr.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}

/// <summary>Ready once the first refresh ran and the replica can serve from a known state (or reach the store).</summary>
public sealed class ReadinessCheck(ServingState state, TransportWarmUp warmUp) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = state.Current;
        var data = new Dictionary<string, object> { ["generation"] = s.Generation?.Id ?? "", ["store_reachable"] = s.StoreReachable, ["warm"] = warmUp.Done };
        if (!s.Initialized) return Task.FromResult(HealthCheckResult.Unhealthy("state not loaded yet", data: data));
        if (!warmUp.Done) return Task.FromResult(HealthCheckResult.Unhealthy("warming up (self-calls through the gRPC port)", data: data));
        if (!s.StoreReachable && s.Generation is null) return Task.FromResult(HealthCheckResult.Unhealthy("store unreachable and no generation cached", data: data));
        return Task.FromResult(s.StoreReachable ? HealthCheckResult.Healthy("serving", data) : HealthCheckResult.Degraded("store unreachable; serving cached state (fail-open)", data: data));
    }
}
