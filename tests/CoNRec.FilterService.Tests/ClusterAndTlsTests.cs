using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using CoNRec.Core;
using CoNRec.Store;
using CoNRec.Testing;
using CoNRec.V1;
using Grpc.Core;
using Grpc.Net.Client;
using StackExchange.Redis;
using Xunit;

namespace CoNRec.FilterService.Tests;

/// <summary>
/// Serving from a three-master Redis Cluster: the same generation loaded into one plain redis-server and into the
/// cluster must give the same decisions for every user (profiles and catalog lookups land in different slots), a
/// threshold set on one replica reaches another, and a rollback switches both.
/// </summary>
public sealed class ClusterServingTests : IAsyncLifetime
{
    private readonly RedisServerProcess _single = new RedisServerProcess().Start();
    private readonly RedisClusterProcess _cluster = new();
    private readonly TempDir _data = TempDir.WithSample(new SampleData.Spec(Users: 40, Items: 300) { RecentNegatives = 4, RecentPositives = 4 });
    private readonly TempDir _data2 = TempDir.WithSample(new SampleData.Spec(Users: 40, Items: 300, Seed: 11));
    private readonly string _prefix = "clu" + Guid.NewGuid().ToString("N")[..6];
    private ServiceHost _reference = null!, _a = null!, _b = null!;
    private GenerationMeta _g1 = null!;

    private Task<LoadResult> LoadAsync(ConnectionMultiplexer mux, TempDir data) =>
        new GenerationLoader(mux, new RedisKeys(_prefix), new StoreOptions { KeyPrefix = _prefix })
            .LoadAsync(data.File("codebook.safetensors"), data.File("catalog.jsonl"), data.File("predictions.jsonl"), publish: true);

    public async Task InitializeAsync()
    {
        using (var mux = await RedisConnection.ConnectAsync(_single.Endpoint, allowAdmin: true)) await LoadAsync(mux, _data);
        using (var mux = await RedisConnection.ConnectAsync(_cluster.Configuration, allowAdmin: true)) _g1 = (await LoadAsync(mux, _data)).Meta;
        _reference = await ServiceHost.StartAsync(_single.Endpoint, _prefix);
        _a = await ServiceHost.StartAsync(_cluster.Configuration, _prefix);
        _b = await ServiceHost.StartAsync(_cluster.Configuration, _prefix);
        foreach (var h in new[] { _reference, _a, _b }) await h.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var h in new[] { _reference, _a, _b }) if (h is not null) await h.DisposeAsync();
        _cluster.Dispose();
        _single.Dispose();
        _data.Dispose();
        _data2.Dispose();
    }

    private FilterCandidatesRequest Request(string user, string scene = "")
    {
        var request = new FilterCandidatesRequest { UserId = user, Scene = scene };
        foreach (var l in File.ReadLines(_data.File("catalog.jsonl")).Take(60))
            request.Candidates.Add(new Candidate { ItemId = System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("item_id").GetString()! });
        request.Candidates.Add(new Candidate { ItemId = "not-in-catalog" });
        return request;
    }

    [Fact]
    public async Task The_cluster_serves_exactly_what_a_single_redis_serves()
    {
        Assert.Equal(_g1.Id, _a.State.Current.Generation?.Id);
        int rejected = 0, scored = 0;
        for (int u = 0; u < 40; u++)
        {
            var request = Request("u" + u);
            var expected = await _reference.Client.FilterCandidatesAsync(request);
            var actual = await _a.Client.FilterCandidatesAsync(request);
            Assert.Equal(expected.Decisions.Count, actual.Decisions.Count);
            for (int i = 0; i < expected.Decisions.Count; i++)
            {
                var (e, a) = (expected.Decisions[i], actual.Decisions[i]);
                Assert.Equal((e.ItemId, e.Rejected, e.Reason, e.Score, e.MatchSource, e.PositiveScore, e.MatchedIndex),
                             (a.ItemId, a.Rejected, a.Reason, a.Score, a.MatchSource, a.PositiveScore, a.MatchedIndex));
                Assert.NotEqual(Reason.StoreUnavailable, a.Reason);
                rejected += a.Rejected ? 1 : 0;
                scored += a.Reason == Reason.Scored ? 1 : 0;
            }
            Assert.Equal(Reason.UnknownItem, actual.Decisions[^1].Reason);
        }
        // Not vacuous: profiles were found and some candidates rejected, some kept.
        Assert.True(scored > 1000, $"scored {scored}");
        Assert.InRange(rejected, 1, scored - 1);
    }

    [Fact]
    public async Task A_threshold_set_on_one_replica_reaches_the_other_and_a_rollback_switches_both()
    {
        var put = await _a.Admin.PutAsJsonAsync("/admin/v1/thresholds/cluster-scene", new { threshold = -1.0, mode = "enforce" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        FilterCandidatesResponse r;
        do r = await _b.Client.FilterCandidatesAsync(Request("u1", "cluster-scene"));
        while (r.Threshold != -1f && DateTime.UtcNow < deadline && await Task.Delay(50).ContinueWith(_ => true));
        Assert.Equal(-1f, r.Threshold);
        Assert.All(r.Decisions.Where(d => d.Reason == Reason.Scored), d => Assert.True(d.Rejected));

        // A second generation, then a rollback to the first: both replicas follow each switch.
        GenerationMeta g2;
        using (var mux = await RedisConnection.ConnectAsync(_cluster.Configuration, allowAdmin: true)) g2 = (await LoadAsync(mux, _data2)).Meta;
        await _a.WaitReadyAsync(g2.Id);
        await _b.WaitReadyAsync(g2.Id);
        using (var mux = await RedisConnection.ConnectAsync(_cluster.Configuration, allowAdmin: true))
            await GenerationPublisher.PublishAsync(mux.GetDatabase(), new RedisKeys(_prefix), new StoreOptions { KeyPrefix = _prefix }, _g1.Id);
        await _a.WaitReadyAsync(_g1.Id);
        await _b.WaitReadyAsync(_g1.Id);
        Assert.Equal(_g1.Id, (await _b.Client.FilterCandidatesAsync(Request("u2"))).Generation);
    }
}

/// <summary>
/// TLS end to end: gRPC and admin over TLS with the certificate from configuration, mTLS for gRPC clients, and Redis
/// reached over TLS (CA and client certificate) on a redis-server whose only listener is its TLS port.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TlsMaterial _tls = new() { RequireClientCert = true };
    private RedisServerProcess _redis = null!;
    private readonly TempDir _data = TempDir.WithSample(new SampleData.Spec(Users: 10, Items: 100));
    private readonly string _prefix = "tls" + Guid.NewGuid().ToString("N")[..6];
    private ServiceHost _host = null!;

    public async Task InitializeAsync()
    {
        _redis = new RedisServerProcess(tls: _tls).Start();
        using (var mux = await RedisConnection.ConnectAsync(_redis.Endpoint, allowAdmin: true, tls: new RedisTls(_tls.CaCert, _tls.ClientCert, _tls.ClientKey)))
        {
            Assert.True(mux.IsConnected);
            await new GenerationLoader(mux, new RedisKeys(_prefix), new StoreOptions { KeyPrefix = _prefix })
                .LoadAsync(_data.File("codebook.safetensors"), _data.File("catalog.jsonl"), _data.File("predictions.jsonl"), publish: true);
        }
        _host = await ServiceHost.StartAsync(_redis.Endpoint, _prefix, "--redis-ca", _tls.CaCert,
            "--Store:TlsClientCertificateFile", _tls.ClientCert, "--Store:TlsClientKeyFile", _tls.ClientKey,
            "--tls-cert", _tls.ServerCert, "--tls-key", _tls.ServerKey, "--tls-client-ca", _tls.CaCert);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (_host.State.Current.Generation is null && DateTime.UtcNow < deadline) await Task.Delay(20);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _redis.Dispose();
        _data.Dispose();
        _tls.Dispose();
    }

    private SocketsHttpHandler Handler(string trustedCa, bool clientCertificate)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(trustedCa);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) =>
            cert is not null && ChainsTo(new X509Certificate2(cert), ca);
        if (clientCertificate) handler.SslOptions.ClientCertificates = [X509Certificate2.CreateFromPemFile(_tls.ClientCert, _tls.ClientKey)];
        return handler;
    }

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private GrpcChannel Channel(string trustedCa, bool clientCertificate) =>
        GrpcChannel.ForAddress($"https://localhost:{_host.GrpcPort}", new GrpcChannelOptions { HttpHandler = Handler(trustedCa, clientCertificate) });

    [Fact]
    public async Task Grpc_over_tls_with_a_client_certificate_serves_profiles_read_from_redis_over_tls()
    {
        Assert.NotNull(_host.State.Current.Generation); // read from the TLS-only Redis
        using var channel = Channel(_tls.CaCert, clientCertificate: true);
        var response = await new NegativeFilter.NegativeFilterClient(channel).FilterCandidatesAsync(
            new FilterCandidatesRequest { UserId = "u1", Candidates = { new Candidate { ItemId = "i1" }, new Candidate { ItemId = "i2" } } });
        Assert.Equal(_host.State.Current.Generation!.Id, response.Generation);
        Assert.All(response.Decisions, d => Assert.Equal(Reason.Scored, d.Reason));
    }

    [Fact]
    public async Task Without_a_client_certificate_or_with_the_wrong_ca_the_grpc_port_refuses()
    {
        using (var noCert = Channel(_tls.CaCert, clientCertificate: false))
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await new NegativeFilter.NegativeFilterClient(noCert)
                .FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u1", Candidates = { new Candidate { ItemId = "i1" } } }));
            // TLS 1.3 finishes the client's side of the handshake before the server checks for a client certificate, so
            // the refusal reaches the client either while connecting (UNAVAILABLE) or as the connection closing under
            // the call (INTERNAL), depending on timing; either way it is the transport refusing, never an answer.
            Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{e.StatusCode}: {e.Status.Detail}");
            Assert.True(Inner(e.Status.DebugException, typeof(System.Net.Http.HttpRequestException)) is not null
                        || Inner(e.Status.DebugException, typeof(IOException)) is not null, e.Status.DebugException?.ToString());
        }
        using (var wrongCa = Channel(_tls.OtherCaCert, clientCertificate: true))
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await new NegativeFilter.NegativeFilterClient(wrongCa)
                .FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u1", Candidates = { new Candidate { ItemId = "i1" } } }));
            // The client refuses the server: its certificate does not chain to the CA this client trusts.
            Assert.IsAssignableFrom<System.Security.Authentication.AuthenticationException>(Inner(e.Status.DebugException, typeof(System.Security.Authentication.AuthenticationException)));
        }
        // Plain text is not served at all on the TLS port.
        using var plain = GrpcChannel.ForAddress($"http://127.0.0.1:{_host.GrpcPort}");
        await Assert.ThrowsAsync<RpcException>(async () => await new NegativeFilter.NegativeFilterClient(plain)
            .FilterCandidatesAsync(new FilterCandidatesRequest { UserId = "u1", Candidates = { new Candidate { ItemId = "i1" } } }));
    }

    private static Exception? Inner(Exception? e, Type type)
    {
        for (; e is not null; e = e.InnerException) if (type.IsInstanceOfType(e)) return e;
        return null;
    }

    [Fact]
    public async Task The_admin_port_speaks_tls_without_a_client_certificate()
    {
        using var admin = new HttpClient(Handler(_tls.CaCert, clientCertificate: false)) { BaseAddress = new Uri($"https://localhost:{_host.AdminPort}") };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ServiceHost.Token);
        var thresholds = await admin.GetAsync("/admin/v1/thresholds");
        Assert.Equal(HttpStatusCode.OK, thresholds.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Redis_over_tls_refuses_a_client_that_trusts_another_ca_or_has_no_certificate()
    {
        using (var wrongCa = await RedisConnection.ConnectAsync(_redis.Endpoint, tls: new RedisTls(_tls.OtherCaCert, _tls.ClientCert, _tls.ClientKey)))
            Assert.False(wrongCa.IsConnected);
        using (var noCert = await RedisConnection.ConnectAsync(_redis.Endpoint, tls: new RedisTls(_tls.CaCert)))
            Assert.False(noCert.IsConnected);
        using var plain = await RedisConnection.ConnectAsync(_redis.Endpoint);
        Assert.False(plain.IsConnected);
    }

    [Fact]
    public async Task A_missing_tls_file_stops_start_up_with_one_line_naming_the_option()
    {
        var missing = Path.Combine(_tls.Dir, "missing.crt");
        var stderr = new StringWriter();
        int code = await FilterServiceHost.RunAsync(["--tls-cert", missing, "--tls-key", _tls.ServerKey, "--grpc-port", FreePort.Next().ToString(),
            "--admin-port", FreePort.Next().ToString(), "--redis", _redis.Endpoint], stderr);
        Assert.Equal(1, code);
        Assert.Contains("Tls:CertificateFile", stderr.ToString());
        Assert.Contains(missing, stderr.ToString());
        Assert.DoesNotContain("   at ", stderr.ToString());

        stderr = new StringWriter();
        code = await FilterServiceHost.RunAsync(["--redis-ca", missing, "--grpc-port", FreePort.Next().ToString(),
            "--admin-port", FreePort.Next().ToString(), "--redis", _redis.Endpoint], stderr);
        Assert.Equal(1, code);
        Assert.Contains(missing, stderr.ToString());
    }
}
