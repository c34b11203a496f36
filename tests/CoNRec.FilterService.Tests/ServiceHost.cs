using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>The real service (FilterServiceHost.Build, Kestrel on loopback) plus a real GrpcChannel and admin HttpClient.</summary>
public sealed class ServiceHost : IAsyncDisposable
{
    public const string Token = "test-admin-token-0123456789";

    private readonly WebApplication _app;
    public int GrpcPort { get; } = FreePort.Next();
    public int AdminPort { get; } = FreePort.Next();
    public GrpcChannel Channel { get; }
    public NegativeFilter.NegativeFilterClient Client { get; }
    public HttpClient Admin { get; }

    private ServiceHost(WebApplication app, int grpcPort, int adminPort)
    {
        _app = app;
        GrpcPort = grpcPort;
        AdminPort = adminPort;
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        Client = new NegativeFilter.NegativeFilterClient(Channel);
        Admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        Admin.DefaultRequestHeaders.Authorization = new("Bearer", Token);
    }

    public static Task<ServiceHost> StartAsync(string? redis, string prefix, params string[] extra) => StartAsync(redis, prefix, null, extra);

    public static async Task<ServiceHost> StartAsync(string? redis, string prefix, Action<WebApplicationBuilder>? configure, params string[] extra)
    {
        int grpc = FreePort.Next(), admin = FreePort.Next();
        var args = new List<string> { "--grpc-port", grpc.ToString(), "--grpc-bind", "127.0.0.1", "--admin-port", admin.ToString(), "--admin-token", Token,
            "--Store:KeyPrefix", prefix, "--Filter:PollInterval", "00:00:00.5", "--Filter:WarmUpDuration", "00:00:00", "--Logging:LogLevel:Default", "Warning" };
        if (redis is not null) args.AddRange(["--redis", redis]);
        args.AddRange(extra);
        var app = FilterServiceHost.Build([.. args], configure);
        await app.StartAsync();
        var host = new ServiceHost(app, grpc, admin);
        await host.WaitReadyAsync();
        // The test's own client pays its JIT and HTTP/2 connection set-up here (150-350 ms on a busy box), not inside
        // the first call a test gives a contract deadline; the service warms its own side before /readyz.
        if (!extra.Contains("--tls-cert")) // a TLS host is called through the test's own TLS channels
            await host.Client.FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "_client-warm-up", Candidates = { new Candidate { ItemId = "_" } } });
        return host;
    }

    public ServingState State => _app.Services.GetRequiredService<ServingState>();

    public async Task WaitReadyAsync(string? generation = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var s = State.Current;
            if (s.Initialized && (generation is null || s.Generation?.Id == generation) && _app.Services.GetRequiredService<TransportWarmUp>().Done) return;
            await Task.Delay(20);
        }
        throw new TimeoutException($"service not ready (generation {generation})");
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Admin.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The sample directory's files as the tests' expectations: its codebook, prediction lines and catalog.</summary>
public static class SampleGenerationFiles
{
    public static Codebook Read(TempDir data, List<PredictionEntry> predictions, Dictionary<string, ulong> catalog)
    {
        var codebook = Codebook.Load(data.File("codebook.safetensors"));
        long line = 0;
        foreach (var l in File.ReadLines(data.File("predictions.jsonl")))
            predictions.Add(JsonlInput.ParsePredictionLine(System.Text.Encoding.UTF8.GetBytes(l), codebook.Layout, "p", ++line));
        foreach (var l in File.ReadLines(data.File("catalog.jsonl")))
        {
            var e = JsonlInput.ParseCatalogLine(System.Text.Encoding.UTF8.GetBytes(l), codebook.Layout, "c", ++line);
            catalog[e.ItemId] = e.Sid;
        }
        return codebook;
    }
}

/// <summary>redis-server + a loaded sample generation + one service instance, shared by a test class.</summary>
public sealed class LoadedServiceFixture : IAsyncLifetime
{
    public RedisServerProcess Redis { get; } = new RedisServerProcess().Start();
    public TempDir Data { get; } = TempDir.WithSample(new SampleData.Spec(Users: 30, Items: 200, Levels: 3, Codes: 32, Dimension: 16));
    public string Prefix { get; } = "svc" + Guid.NewGuid().ToString("N")[..6];
    public Codebook Codebook { get; private set; } = null!;
    public GenerationMeta Generation { get; private set; } = null!;
    public ServiceHost Host { get; private set; } = null!;
    public List<PredictionEntry> Predictions { get; } = [];
    public Dictionary<string, ulong> Catalog { get; } = [];

    public async Task InitializeAsync()
    {
        Codebook = SampleGenerationFiles.Read(Data, Predictions, Catalog);
        using var mux = await RedisConnection.ConnectAsync(Redis.Endpoint, allowAdmin: true);
        var options = new StoreOptions { KeyPrefix = Prefix };
        var result = await new GenerationLoader(mux, new RedisKeys(Prefix), options)
            .LoadAsync(Data.File("codebook.safetensors"), Data.File("catalog.jsonl"), Data.File("predictions.jsonl"), publish: true);
        Generation = result.Meta;
        Host = await ServiceHost.StartAsync(Redis.Endpoint, Prefix);
        await Host.WaitReadyAsync(Generation.Id);
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Redis.Dispose();
        Data.Dispose();
    }

    public (double Score, int Index) Reference(ulong candidate, IReadOnlyList<ulong> predicted) => Reference(Codebook, candidate, predicted);

    /// <summary>Independent reference: Σ codewords in double, normalised, max cosine with first-max tie-break.</summary>
    public static (double Score, int Index) Reference(Codebook codebook, ulong candidate, IReadOnlyList<ulong> predicted)
    {
        double[] Embed(ulong sid)
        {
            var codes = new uint[codebook.Levels];
            codebook.Layout.Unpack(sid, codes);
            var v = new double[codebook.Dimension];
            for (int l = 0; l < codes.Length; l++)
            {
                var w = codebook.Codeword(l, (int)codes[l]);
                for (int k = 0; k < v.Length; k++) v[k] += w[k];
            }
            double norm = Math.Sqrt(v.Sum(x => x * x));
            return norm == 0 ? v : v.Select(x => x / norm).ToArray();
        }
        var c = Embed(candidate);
        double best = double.NegativeInfinity;
        int index = -1;
        for (int j = 0; j < predicted.Count; j++)
        {
            var p = Embed(predicted[j]);
            double dot = 0;
            for (int k = 0; k < c.Length; k++) dot += c[k] * p[k];
            if (dot > best + 1e-9) { best = dot; index = j; }
        }
        return (best, index);
    }

    /// <summary>
    /// Independent reference of the profile rule (ProfileScoring), in double: predicted = max cosine over predicted SIDs,
    /// given = over recent negatives (each exactly 1 for an exact SID, else at most the float below 1); negative =
    /// max(w·predicted, given), ties to given; positive likewise over positives (0 when none); score = negative −
    /// guard·max(0, positive). Index is within the matched source (1 predicted, 2 recent negatives).
    /// </summary>
    public static (double Score, int Index, int Source, double Positive) ProfileReference(Codebook codebook, ulong candidate,
        IReadOnlyList<ulong> predicted, IReadOnlyList<ulong> negatives, IReadOnlyList<ulong> positives, double guard, double predictedWeight = 1)
    {
        const double belowExact = 0.99999994039535522; // float.BitDecrement(1f)
        (double Score, int Index) Side(IReadOnlyList<ulong> sids)
        {
            if (sids.Count == 0) return (double.NegativeInfinity, -1);
            int exact = sids.ToList().IndexOf(candidate);
            if (exact >= 0) return (1, exact);
            var (s, j) = Reference(codebook, candidate, sids);
            return (Math.Min(s, belowExact), j);
        }
        var (p, pi) = Side(predicted);
        var (g, gi) = Side(negatives);
        double pw = predicted.Count == 0 ? double.NegativeInfinity : predictedWeight * p;
        bool fromPredicted = negatives.Count == 0 || pw > g;
        double neg = fromPredicted ? pw : g;
        double pos = positives.Count == 0 ? 0 : Side(positives).Score;
        return (neg - (guard * Math.Max(0, pos)), fromPredicted ? pi : gi, fromPredicted ? 1 : 2, pos);
    }

    public Candidate WithSid(string itemId, ulong sid)
    {
        var codes = new uint[Codebook.Levels];
        Codebook.Layout.Unpack(sid, codes);
        var c = new Candidate { ItemId = itemId };
        c.Sid.AddRange(codes);
        return c;
    }
}
