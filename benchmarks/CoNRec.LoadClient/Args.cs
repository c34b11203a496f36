using System.Globalization;

namespace CoNRec.LoadClient;

/// <summary>"--name value" options after an optional command word; unknown options are errors, not silently ignored.</summary>
public sealed class Args
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public string Command { get; }

    public Args(string[] args, IReadOnlySet<string> flagNames)
    {
        int i = 0;
        Command = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[i++] : "load";
        for (; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
            if (flagNames.Contains(a)) { _flags.Add(a); continue; }
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
        return _flags.Contains(name);
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

    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Concat(_flags).Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option(s) for '{Command}': {string.Join(", ", unknown)}");
    }
}

public sealed class UsageException(string message) : Exception(message);
