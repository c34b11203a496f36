using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using CoNRec.V1;
using Google.Protobuf;
using Microsoft.Extensions.Options;

namespace CoNRec.FilterService;

/// <summary>
/// Warms what in-process warm-up cannot reach: Kestrel's HTTP/2 connection and stream code, the gRPC server pipeline
/// and the thread pool, by sending real FilterCandidates calls to this replica's own gRPC port over loopback, from
/// several connections at once. A fresh replica used to fail open on ~24% of decisions in its first 20 s at 1,000 req/s
/// because /readyz said ready before any of this had run; readiness now waits for it. The calls use scene
/// <see cref="Scene"/>, so metrics show them apart. With mTLS this replica holds no client certificate and skips the
/// transport part (logged); a failure only costs warmth, never readiness.
/// </summary>
public sealed class TransportWarmUp(ServingState state, IOptions<FilterOptions> filter, IOptions<TlsOptions> tls,
    IHostApplicationLifetime lifetime, ILogger<TransportWarmUp> log) : BackgroundService
{
    public const string Scene = "_warmup";
    private const int Connections = 4, MinCallsPerConnection = 25, Candidates = 500;



    private volatile bool _done;
    public bool Done => _done;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await WaitAsync(lifetime.ApplicationStarted, stoppingToken); // Kestrel listens from here on
            while (!state.Current.Initialized) await Task.Delay(20, stoppingToken);
            if (tls.Value.Enabled && !string.IsNullOrWhiteSpace(tls.Value.ClientCaFile))
            {
                log.LogInformation("Transport warm-up skipped: the gRPC port requires client certificates (mTLS)");
                return;
            }
            var sw = Stopwatch.StartNew();
            int ok = await RunAsync(stoppingToken);
            log.LogInformation("Transport warm-up: {Ok} of {Total} self-calls answered in {Ms} ms", ok, Calls, sw.ElapsedMilliseconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            log.LogWarning("Transport warm-up failed ({Message}); serving cold", e.Message);
        }
        finally { _done = true; }
    }

    private static Task WaitAsync(CancellationToken started, CancellationToken stopping)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        started.Register(() => tcs.TrySetResult());
        return tcs.Task.WaitAsync(stopping);
    }

    private async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var o = filter.Value;
        var address = IPAddress.TryParse(o.GrpcBindAddress, out var ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any) ? ip : IPAddress.Loopback;
        var scheme = tls.Value.Enabled ? "https" : "http";
        var uri = new Uri($"{scheme}://{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{o.GrpcPort}/conrec.v1.NegativeFilter/FilterCandidates");
        var generation = state.Current.Generation;
        var bodies = Enumerable.Range(0, 16).Select(k => Frame(generation, k)).ToArray();
        int ok = 0, calls = 0;
        // Never more at once than the concurrency gate admits: a warm-up answered RESOURCE_EXHAUSTED warms nothing.
        await Task.WhenAll(Enumerable.Range(0, Math.Min(Connections, o.EffectiveMaxConcurrentRequests)).Select(async _ =>
        {
            using var client = new HttpClient(Handler(), disposeHandler: true) { Timeout = TimeSpan.FromSeconds(10) };
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < MinCallsPerConnection || clock.Elapsed < o.WarmUpDuration; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, uri)
                {
                    Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(bodies[i % bodies.Length]),
                };
                request.Content.Headers.ContentType = new("application/grpc");
                request.Headers.TE.ParseAdd("trailers");
                Interlocked.Increment(ref calls);
                using var response = await client.SendAsync(request, cancellationToken);
                await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK && response.TrailingHeaders.TryGetValues("grpc-status", out var s) && s.FirstOrDefault() == "0")
                    Interlocked.Increment(ref ok);
            }
        }));
        Calls = calls;
        return ok;
    }

    public int Calls { get; private set; }

    private SocketsHttpHandler Handler()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false };
        if (tls.Value.Enabled)
        {
            // Only this replica's own certificate is accepted: the call never leaves the machine, and nothing else is trusted.
            using var own = TlsCertificates.LoadServer(tls.Value);
            var thumbprint = own.GetCertHashString();
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == thumbprint;
        }
        return handler;
    }

    /// <summary>
    /// A gRPC-framed request that takes the path real traffic takes: a real user's profile read and scored against 500
    /// real catalog items looked up by id. With no generation (or an empty catalog), synthetic ids and SIDs still warm
    /// the transport and protobuf paths.
    /// </summary>
    private static byte[] Frame(ActiveGeneration? generation, int k)
    {
        var users = generation?.WarmUsers ?? [];
        var items = generation?.WarmItems ?? [];
        var request = new FilterCandidatesRequest { UserId = users.Count > 0 ? users[k % users.Count] : "_warmup", Scene = Scene };
        for (int i = 0; i < Candidates; i++)
        {
            if (items.Count > 0) { request.Candidates.Add(new Candidate { ItemId = items[(i + (k * 31)) % items.Count] }); continue; }
            var c = new Candidate { ItemId = "_warmup" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            for (int l = 0; l < (generation?.Codebook.Levels ?? 0); l++) c.Sid.Add((uint)((i >> l) & 1));
            request.Candidates.Add(c);
        }
        var payload = request.ToByteArray();
        var framed = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32BigEndian(framed.AsSpan(1), payload.Length);
        payload.CopyTo(framed, 5);
        return framed;
    }
}
