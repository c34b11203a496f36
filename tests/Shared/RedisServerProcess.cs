using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace CoNRec.Testing;

public static class FreePort
{
    private static readonly HashSet<int> Given = [];

    /// <summary>
    /// A free loopback port below Linux's ephemeral range (32768-60999), never the same twice in a process. An
    /// ephemeral port (what port 0 gives) can be taken as the local end of any outgoing connection (a Redis client,
    /// a warm-up call) before the server binds it; ports below that range are only ever taken by listeners.
    /// </summary>
    public static int Next()
    {
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            int port = Random.Shared.Next(20_000, 32_768);
            lock (Given) if (!Given.Add(port)) continue;
            try
            {
                using var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                return port;
            }
            catch (SocketException) { }
        }
        throw new InvalidOperationException("no free loopback port in 20000-32767");
    }
}

/// <summary>
/// A real redis-server child process on a free loopback port, with no persistence. Stop/Start keep the port so a
/// fault test can kill the server under traffic and bring it back where the service expects it.
/// </summary>
public sealed class RedisServerProcess(bool persistent = false, IReadOnlyList<string>? extraArgs = null, TlsMaterial? tls = null) : IDisposable
{
    private Process? _process;
    private readonly string? _dataDir = persistent ? Directory.CreateTempSubdirectory("conrec-redis-").FullName : null;

    public int Port { get; } = FreePort.Next();
    public string Endpoint => $"127.0.0.1:{Port}";
    public int? ProcessId => _process?.Id;

    public static string Executable()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var path = Path.Combine(dir, "redis-server");
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException("redis-server is not installed: run `bash scripts/test.sh` (it installs it with apt-get) or `apt-get install -y redis-server`");
    }

    public RedisServerProcess Start()
    {
        var psi = new ProcessStartInfo(Executable())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // With TLS the only listener is the TLS port: nothing can reach this server in plain text by mistake.
        string[] listen = tls is null ? ["--port", Port.ToString()]
            : ["--port", "0", "--tls-port", Port.ToString(), "--tls-cert-file", tls.ServerCert, "--tls-key-file", tls.ServerKey,
               "--tls-ca-cert-file", tls.CaCert, "--tls-auth-clients", tls.RequireClientCert ? "yes" : "no"];
        foreach (var a in listen.Concat(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--hash-max-listpack-value", "256", "--hash-max-listpack-entries", "512", "--protected-mode", "no"]))
            psi.ArgumentList.Add(a);
        foreach (var a in extraArgs ?? []) psi.ArgumentList.Add(a);
        if (_dataDir is not null)
        {
            // Persistent mode survives Stop/Start with its data, as a production Redis would.
            foreach (var a in new[] { "--dir", _dataDir, "--appendonly", "yes", "--appendfsync", "always" }) psi.ArgumentList.Add(a);
        }
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        WaitUntilReady();
        return this;
    }

    private void WaitUntilReady()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, Port);
                using Stream s = tls is null ? c.GetStream() : tls.Authenticate(c.GetStream());
                s.Write("PING\r\n"u8);
                var buf = new byte[16];
                int n = s.Read(buf);
                if (n > 0 && buf[0] == (byte)'+') return;
            }
            catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException) { }
            if (_process!.HasExited) throw new InvalidOperationException($"redis-server exited with {_process.ExitCode}");
            Thread.Sleep(50);
        }
        throw new TimeoutException($"redis-server did not answer on {Endpoint}");
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open, nothing answers. What a hung Redis looks like.</summary>
    public void Pause() => Signal("STOP");

    public void Resume() => Signal("CONT");

    private void Signal(string signal)
    {
        if (_process is null) return;
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Stop()
    {
        if (_process is null) return;
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(10_000);
        _process.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        Stop();
        if (_dataDir is not null) try { Directory.Delete(_dataDir, true); } catch (IOException) { }
    }
}

/// <summary>
/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with the openssl command line as an
/// operator would, in a temporary directory. PEM files, because that is what redis-server, Kestrel and cert-manager use.
/// </summary>
public sealed class TlsMaterial : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("conrec-tls-").FullName;
    public string CaCert => Path.Combine(Dir, "ca.crt");
    public string ServerCert => Path.Combine(Dir, "server.crt");
    public string ServerKey => Path.Combine(Dir, "server.key");
    public string ClientCert => Path.Combine(Dir, "client.crt");
    public string ClientKey => Path.Combine(Dir, "client.key");
    /// <summary>A second CA that signed nothing here: trusting it instead of the real one must fail.</summary>
    public string OtherCaCert => Path.Combine(Dir, "other-ca.crt");
    public bool RequireClientCert { get; init; }

    public TlsMaterial()
    {
        File.WriteAllText(Path.Combine(Dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        File.WriteAllText(Path.Combine(Dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
        foreach (var args in new[]
        {
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=conrec-test-ca",
            "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=conrec-other-ca",
            "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
            "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr -subj /CN=conrec-ranking",
            "x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext",
        })
        {
            var psi = new ProcessStartInfo("openssl") { WorkingDirectory = Dir, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in args.Split(' ')) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException($"openssl {args} failed: {err}");
        }
    }

    /// <summary>A TLS client stream that trusts only this CA and presents the client certificate.</summary>
    public Stream Authenticate(Stream inner)
    {
        var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(CaCert);
        var client = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(ClientCert, ClientKey);
        var ssl = new System.Net.Security.SslStream(inner, false, (_, cert, chain, errors) =>
        {
            if (cert is null || chain is null) return false;
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(cert));
        });
        ssl.AuthenticateAsClient(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [client],
        });
        return ssl;
    }

    public void Dispose() { try { Directory.Delete(Dir, true); } catch (IOException) { } }
}

/// <summary>
/// A three-master Redis Cluster on loopback: three redis-server processes with cluster mode on, joined by
/// <c>redis-cli --cluster create</c>, as an operator would set one up. No replicas: the tests need slots spread over
/// several nodes (CROSSSLOT errors, MOVED redirections), not failover.
/// </summary>
public sealed class RedisClusterProcess : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("conrec-cluster-").FullName;
    public IReadOnlyList<RedisServerProcess> Nodes { get; }

    /// <summary>A StackExchange.Redis configuration naming every node; the client discovers the slot map itself.</summary>
    public string Configuration => string.Join(",", Nodes.Select(n => n.Endpoint));

    public RedisClusterProcess(int masters = 3)
    {
        Nodes = [.. Enumerable.Range(0, masters).Select(i => new RedisServerProcess(extraArgs:
            ["--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(_dir, $"nodes-{i}.conf"), "--cluster-node-timeout", "5000", "--dir", _dir]))];
        try
        {
            foreach (var n in Nodes) n.Start();
            var psi = new ProcessStartInfo(Path.Combine(Path.GetDirectoryName(RedisServerProcess.Executable())!, "redis-cli"))
            { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("--cluster");
            psi.ArgumentList.Add("create");
            foreach (var n in Nodes) psi.ArgumentList.Add(n.Endpoint);
            foreach (var a in new[] { "--cluster-replicas", "0", "--cluster-yes" }) psi.ArgumentList.Add(a);
            using (var p = Process.Start(psi)!)
            {
                var output = p.StandardOutput.ReadToEndAsync();
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0) throw new InvalidOperationException($"redis-cli --cluster create failed: {err}{output.Result}");
            }
            WaitUntilServing();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Every node must report cluster_state:ok and agree on all 16384 slots before a test starts.</summary>
    private void WaitUntilServing()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            bool ok = true;
            foreach (var n in Nodes)
            {
                using var mux = ConnectionMultiplexer.Connect($"{n.Endpoint},connectTimeout=2000,allowAdmin=true");
                var info = mux.GetServer(n.Endpoint).Execute("CLUSTER", "INFO").ToString();
                ok &= info.Contains("cluster_state:ok", StringComparison.Ordinal) && info.Contains("cluster_slots_assigned:16384", StringComparison.Ordinal);
            }
            if (ok) return;
            Thread.Sleep(100);
        }
        throw new TimeoutException("the Redis Cluster did not reach cluster_state:ok");
    }

    public void Dispose()
    {
        foreach (var n in Nodes) n.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

/// <summary>Shared per test class: one real redis-server.</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisServerProcess Server { get; } = new RedisServerProcess().Start();
    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"{Server.Endpoint},allowAdmin=true");
    public void Dispose() => Server.Dispose();
}

/// <summary>Shared per test class: one three-master Redis Cluster.</summary>
public sealed class RedisClusterFixture : IDisposable
{
    public RedisClusterProcess Cluster { get; } = new();
    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"{Cluster.Configuration},allowAdmin=true");
    public void Dispose() => Cluster.Dispose();
}

/// <summary>Shared per test class: one embedded Garnet server.</summary>
public sealed class GarnetFixture : IDisposable
{
    public CoNRec.Store.EmbeddedGarnet Server { get; } = CoNRec.Store.EmbeddedGarnet.Start(FreePort.Next());
    public string Endpoint => Server.Endpoint;
    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"{Server.Endpoint},allowAdmin=true");
    public void Dispose() => Server.Dispose();
}
