using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace CoNRec.Testing;

public static class FreePort
{
    /// <summary>Asks the OS for a free loopback port. The tiny race until the server binds is acceptable in tests.</summary>
    public static int Next()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}

/// <summary>
/// A real redis-server child process on a free loopback port, with no persistence. Stop/Start keep the port so a
/// fault test can kill the server under traffic and bring it back where the service expects it.
/// </summary>
public sealed class RedisServerProcess(bool persistent = false) : IDisposable
{
    private Process? _process;
    private readonly string? _dataDir = persistent ? Directory.CreateTempSubdirectory("conrec-redis-").FullName : null;

    public int Port { get; } = FreePort.Next();
    public string Endpoint => $"127.0.0.1:{Port}";

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
        foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--hash-max-listpack-value", "256", "--hash-max-listpack-entries", "512", "--protected-mode", "no" })
            psi.ArgumentList.Add(a);
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
                using var s = c.GetStream();
                s.Write("PING\r\n"u8);
                var buf = new byte[16];
                int n = s.Read(buf);
                if (n > 0 && buf[0] == (byte)'+') return;
            }
            catch (SocketException) { }
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

/// <summary>Shared per test class: one real redis-server.</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisServerProcess Server { get; } = new RedisServerProcess().Start();
    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"{Server.Endpoint},allowAdmin=true");
    public void Dispose() => Server.Dispose();
}

/// <summary>Shared per test class: one embedded Garnet server.</summary>
public sealed class GarnetFixture : IDisposable
{
    public CoNRec.Store.EmbeddedGarnet Server { get; } = CoNRec.Store.EmbeddedGarnet.Start(FreePort.Next());
    public string Endpoint => Server.Endpoint;
    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect($"{Server.Endpoint},allowAdmin=true");
    public void Dispose() => Server.Dispose();
}
