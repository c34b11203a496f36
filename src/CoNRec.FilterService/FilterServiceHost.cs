using System.Net;
using CoNRec.Store;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Prometheus;
using StackExchange.Redis;

namespace CoNRec.FilterService;

/// <summary>Wires the service together. Kept out of Program.cs so tests host the very same app on loopback.</summary>
public static class FilterServiceHost
{
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--grpc-port"] = "Filter:GrpcPort",
        ["--grpc-bind"] = "Filter:GrpcBindAddress",
        ["--admin-port"] = "Admin:Port",
        ["--admin-bind"] = "Admin:BindAddress",
        ["--admin-token"] = "Admin:Token",
        ["--redis"] = "Store:Redis",
        ["--embedded-redis-port"] = "Store:EmbeddedPort",
        ["--seed"] = "Filter:SeedDirectory",
        ["--max-candidates"] = "Filter:MaxCandidates",
    };

    public static WebApplication Build(string[] args)
    {
        // StackExchange.Redis completes on the thread pool: a burst must not wait for the pool's slow thread injection
        // (0.5 s per thread), or reads time out while Redis itself is idle.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddEnvironmentVariables().AddCommandLine(args, SwitchMappings);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });

        builder.Services.AddOptions<FilterOptions>().Bind(builder.Configuration.GetSection(FilterOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<AdminOptions>().Bind(builder.Configuration.GetSection(AdminOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        builder.Services.AddOptions<StoreOptions>().Bind(builder.Configuration.GetSection(StoreOptions.Section)).ValidateDataAnnotations().ValidateOnStart();

        // Options are validated here too, before Kestrel binds: a bad flag must stop the process with its message.
        var filter = Validated(builder.Configuration.GetSection(FilterOptions.Section).Get<FilterOptions>() ?? new());
        var admin = Validated(builder.Configuration.GetSection(AdminOptions.Section).Get<AdminOptions>() ?? new());
        var store = Validated(builder.Configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new());
        if (new AdminOptionsValidator().Validate(null, admin) is { Failed: true } adminFailure) throw new OptionsValidationException("Admin", typeof(AdminOptions), adminFailure.Failures);

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(ParseAddress(filter.GrpcBindAddress), filter.GrpcPort, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(ParseAddress(admin.BindAddress), admin.Port, o => o.Protocols = HttpProtocols.Http1);
            k.Limits.MaxRequestBodySize = 64L << 20;
        });

        // Embedded default: no --redis means an in-process Garnet on loopback, reached through the same client code.
        EmbeddedGarnet? garnet = null;
        string redis = store.Redis ?? "";
        if (string.IsNullOrWhiteSpace(redis))
        {
            garnet = EmbeddedGarnet.Start(store.EmbeddedPort);
            redis = garnet.Endpoint;
        }
        if (garnet is not null) builder.Services.AddSingleton(garnet);
        var mux = RedisConnection.ConnectAsync(redis, "conrec-filter").GetAwaiter().GetResult();
        builder.Services.AddSingleton<IConnectionMultiplexer>(mux);
        builder.Services.AddSingleton(new RedisKeys(store.KeyPrefix));
        builder.Services.AddSingleton<FilterMetrics>();
        builder.Services.AddSingleton(sp => new ResilientReader(mux.GetDatabase(), sp.GetRequiredService<IOptions<StoreOptions>>().Value, sp.GetRequiredService<FilterMetrics>()));
        builder.Services.AddSingleton<ServingState>();
        builder.Services.AddSingleton<FilterEngine>();
        builder.Services.AddSingleton(sp => new FeedbackStore(mux.GetDatabase(), sp.GetRequiredService<RedisKeys>(), sp.GetRequiredService<IOptions<StoreOptions>>().Value));
        builder.Services.AddHostedService<StateRefresher>();

        // The admin API speaks snake_case throughout, like the gRPC/JSON contracts.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 16 << 20);
        builder.Services.AddGrpcReflection();
        builder.Services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        builder.Services.AddGrpcHealthChecks();

        var app = builder.Build();
        app.Logger.LogInformation("Store: {Store}", garnet is null ? redis : $"embedded Garnet on {redis}");
        if (string.IsNullOrEmpty(admin.Token)) app.Logger.LogWarning("Admin API on {Bind}:{Port} has no token (loopback only)", admin.BindAddress, admin.Port);

        app.UseRouting();
        // Admin endpoints answer only on the admin port and gRPC only on the gRPC port; the Host header is not trusted for this.
        app.Use((context, next) =>
        {
            var endpoint = context.GetEndpoint();
            if (endpoint is null) return next(context);
            bool adminEndpoint = endpoint.Metadata.GetMetadata<AdminPortOnly>() is not null;
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
        adminRoutes.MapMetrics("/metrics");
        adminRoutes.MapGet("/healthz", () => Results.Text("ok"));
        adminRoutes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
        return app;
    }

    private static T Validated<T>(T options) where T : class
    {
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true))
            throw new OptionsValidationException(typeof(T).Name, typeof(T), results.Select(r => $"{typeof(T).Name}: {r.ErrorMessage}"));
        return options;
    }

    private static IPAddress ParseAddress(string address) =>
        address == "localhost" ? IPAddress.Loopback : IPAddress.Parse(address);

    private sealed class AdminPortOnly;
}

/// <summary>Ready once the first refresh ran and the replica can serve from a known state (or reach the store).</summary>
public sealed class ReadinessCheck(ServingState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var s = state.Current;
        var data = new Dictionary<string, object> { ["generation"] = s.Generation?.Id ?? "", ["store_reachable"] = s.StoreReachable };
        if (!s.Initialized) return Task.FromResult(HealthCheckResult.Unhealthy("state not loaded yet", data: data));
        if (!s.StoreReachable && s.Generation is null) return Task.FromResult(HealthCheckResult.Unhealthy("store unreachable and no generation cached", data: data));
        return Task.FromResult(s.StoreReachable ? HealthCheckResult.Healthy("serving", data) : HealthCheckResult.Degraded("store unreachable; serving cached state (fail-open)", data: data));
    }
}
