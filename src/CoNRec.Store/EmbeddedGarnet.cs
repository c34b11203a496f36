using Garnet;
using Microsoft.Extensions.Logging;

namespace CoNRec.Store;

/// <summary>
/// Microsoft Garnet hosted in-process on loopback, so a single command gives a working service with no Redis to
/// install. The service talks to it over RESP through the very same StackExchange.Redis code path as real Redis.
/// </summary>
public sealed class EmbeddedGarnet : IDisposable
{
    private readonly GarnetServer _server;

    public int Port { get; }
    public string Endpoint => $"127.0.0.1:{Port}";

    private EmbeddedGarnet(GarnetServer server, int port)
    {
        _server = server;
        Port = port;
    }

    public static EmbeddedGarnet Start(int port, ILoggerFactory? loggerFactory = null)
    {
        // Loopback only: the embedded server has no auth and is for one machine. Modest memory: it is a default, not a cluster.
        string[] args = ["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                         "--index", "64m", "--memory", "1g", "--logger-level", "Warning"];
        var server = new GarnetServer(args, loggerFactory);
        try { server.Start(); }
        catch
        {
            server.Dispose();
            throw;
        }
        return new EmbeddedGarnet(server, port);
    }

    public void Dispose() => _server.Dispose();
}
