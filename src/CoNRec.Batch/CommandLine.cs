using System.Globalization;

namespace CoNRec.Batch;

/// <summary>
/// A deliberately small "--name value" / "--flag" parser: the CLIs have few options and must report bad ones clearly.
/// Also compiled into benchmarks/CoNRec.LoadClient (linked source), so there is one parser.
/// </summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public string Command { get; }

    /// <param name="defaultCommand">Used when the first argument is an option; null makes the command word mandatory.</param>
    public CommandLine(string[] args, IReadOnlySet<string> flags, string? defaultCommand = null)
    {
        int i = 0;
        if (args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal)) Command = args[i++];
        else Command = defaultCommand ?? throw new UsageException("missing command");
        for (; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
            if (flags.Contains(a)) { _values[a] = null; continue; }
            if (i + 1 >= args.Length) throw new UsageException($"option {a} needs a value");
            _values[a] = args[++i];
        }
    }

    public string? Get(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

    public string Require(string name) => Get(name) ?? throw new UsageException($"option {name} is required");

    public bool Flag(string name)
    {
        _used.Add(name);
        return _values.ContainsKey(name);
    }

    public int Int(string name, int fallback, int min, int max)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            throw new UsageException($"option {name} = '{v}' must be an integer in [{min}, {max}]");
        return n;
    }

    public double Double(string name, double fallback, double min, double max)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || !double.IsFinite(n) || n < min || n > max)
            throw new UsageException($"option {name} = '{v}' must be a number in [{min}, {max}]");
        return n;
    }

    /// <summary>Rejects options nobody asked for, so a typo is an error rather than silently ignored.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option(s) for '{Command}': {string.Join(", ", unknown)}");
    }
}

public sealed class UsageException(string message) : Exception(message);
