using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using CoNRec.Batch.Generate;
using CoNRec.FilterService;
using CoNRec.Store;
using CoNRec.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using StackExchange.Redis;

namespace CoNRec.Demo;

/// <summary>
/// The serving half of the demo, all in this process and on loopback: the filter service exactly as production runs
/// it (FilterServiceHost: Kestrel, gRPC, admin HTTP) hosting its embedded Garnet, fed by the real <c>generate</c> job
/// and <c>publish</c> step, and called through a real gRPC channel.
/// </summary>
public sealed class DemoServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _admin;

    public string Redis { get; }
    public GrpcChannel Channel { get; }
    public NegativeFilter.NegativeFilterClient Client { get; }

    private DemoServer(WebApplication app, int grpcPort, int adminPort, int redisPort, string token)
    {
        _app = app;
        Redis = $"127.0.0.1:{redisPort}";
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Client = new NegativeFilter.NegativeFilterClient(Channel);
        _admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        _admin.DefaultRequestHeaders.Authorization = new("Bearer", token);
    }

    public static async Task<DemoServer> StartAsync()
    {
        int grpc = FreePort(), admin = FreePort(), redis = FreePort();
        string token = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        // Garnet prints a banner on Console.Out when it starts (inside Build); the demo's stdout is a report, so keep it out.
        var console = Console.Out;
        Console.SetOut(TextWriter.Null);
        WebApplication app;
        try
        {
            app = FilterServiceHost.Build([
            "--grpc-port", grpc.ToString(), "--grpc-bind", "127.0.0.1", "--admin-port", admin.ToString(), "--admin-bind", "127.0.0.1",
            "--admin-token", token, "--embedded-redis-port", redis.ToString(), "--Filter:PollInterval", "00:00:00.5",
            // The demo serves right after training on every core, often on a busy laptop or CI box: a Garnet read that
            // misses production's 25 ms budget would print STORE_UNAVAILABLE rows that say nothing about the method.
            // The 25 ms budget itself is exercised by the filter service's fault tests and benchmarks/fault-loop.sh.
            "--Store:ReadTimeout", "00:00:01",
            "--Logging:LogLevel:Default", "Warning",
            ]);
            await app.StartAsync();
        }
        finally { Console.SetOut(console); }
        return new DemoServer(app, grpc, admin, redis, token);
    }

    /// <summary>The nightly job's two steps against this server's store: generate (one shard) and publish.</summary>
    public async Task<string> GenerateAndPublishAsync(string bundleDir, string histories, string output, bool? terminal, TextWriter log)
    {
        var result = await new GenerateJob(new GenerateOptions
        {
            Redis = Redis, Bundle = bundleDir, Histories = histories, Output = output, Terminal = terminal,
        }, log).RunAsync();
        using var mux = await RedisConnection.ConnectAsync(Redis, "conrec-demo", allowAdmin: true);
        var meta = await GenerationPublisher.PublishAsync(mux.GetDatabase(), new RedisKeys("conrec"), new StoreOptions(), result.Generation, actor: "demo");
        log.WriteLine($"published {meta.Id}: {meta.Users} users, codebook {meta.CodebookHash[..12]}");
        return meta.Id;
    }

    /// <summary>Sets a scene's threshold through the admin API (as an operator would), then waits until it is served.</summary>
    public async Task SetThresholdAsync(string scene, double threshold, double guardWeight, double predictedWeight, string generation)
    {
        var response = await _admin.PutAsJsonAsync($"/admin/v1/thresholds/{scene}", new { threshold, mode = "enforce", guard_weight = guardWeight, predicted_weight = predictedWeight });
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"admin PUT threshold failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var probe = await Client.FilterCandidatesAsync(new FilterCandidatesRequest
            {
                UserId = "demo-probe", Scene = scene, Candidates = { new Candidate { ItemId = "probe" } },
            });
            if (probe.Generation == generation && Math.Abs(probe.Threshold - threshold) < 1e-6 && Math.Abs(probe.GuardWeight - guardWeight) < 1e-6) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"the filter service did not serve generation {generation} with threshold {threshold} within 30 s");
    }

    public async Task<FilterCandidatesResponse> FilterAsync(string user, string scene, IEnumerable<Candidate> candidates) =>
        await Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = user, Scene = scene, Candidates = { candidates } },
            deadline: DateTime.UtcNow.AddSeconds(10));

    public async ValueTask DisposeAsync()
    {
        _admin.Dispose();
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
