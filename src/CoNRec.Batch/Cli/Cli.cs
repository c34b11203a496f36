using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace CoNRec.Batch.Cli;

/// <summary>A bad command line (exit 2), raised where a check spans several options.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Option factories for the command lines (System.CommandLine): every option carries its description, its default and
/// its range in one place, so the generated help and the validation cannot drift apart. A value out of range is a parse
/// error naming the option and the limit.
/// </summary>
public static class Opt
{
    public static Option<int> Int(string name, string description, int defaultValue, int min, int max)
    {
        var o = new Option<int>(name) { Description = $"{description} [{min}..{max}]", DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        o.Validators.Add(r => Check(r, name, r.GetValueOrDefault<int>(), min, max));
        return o;
    }

    /// <summary>An integer whose default is decided by the command (e.g. smaller with --quick): null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string description, int min, int max)
    {
        var o = new Option<int?>(name) { Description = $"{description} [{min}..{max}]", HelpName = "N" };
        o.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is { } v) Check(r, name, v, min, max); });
        return o;
    }

    public static Option<double> Double(string name, string description, double defaultValue, double min, double max)
    {
        var o = new Option<double>(name) { Description = $"{description} [{F(min)}..{F(max)}]", DefaultValueFactory = _ => defaultValue, HelpName = "X" };
        o.Validators.Add(r => Check(r, name, r.GetValueOrDefault<double>(), min, max));
        return o;
    }

    public static Option<double?> OptionalDouble(string name, string description, double min, double max)
    {
        var o = new Option<double?>(name) { Description = $"{description} [{F(min)}..{F(max)}]", HelpName = "X" };
        o.Validators.Add(r => { if (r.GetValueOrDefault<double?>() is { } v) Check(r, name, v, min, max); });
        return o;
    }

    public static Option<string?> String(string name, string description, string? defaultValue = null, bool required = false, string helpName = "VALUE")
    {
        var o = new Option<string?>(name) { Description = description, Required = required, HelpName = helpName };
        if (defaultValue is not null) o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static Option<string> Choice(string name, string description, string defaultValue, params string[] values)
    {
        var o = new Option<string>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = string.Join('|', values) };
        o.AcceptOnlyFromAmong(values);
        return o;
    }

    /// <summary>A choice without a default: null when not given (the command decides).</summary>
    public static Option<string?> OptionalChoice(string name, string description, params string[] values)
    {
        var o = new Option<string?>(name) { Description = description, HelpName = string.Join('|', values) };
        o.AcceptOnlyFromAmong(values);
        return o;
    }

    /// <summary>An ISO-8601 instant (UTC unless it names an offset), or null when not given.</summary>
    public static Option<DateTimeOffset?> Time(string name, string description)
    {
        return new Option<DateTimeOffset?>(name)
        {
            Description = description,
            HelpName = "ISO-8601",
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
                if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
                r.AddError($"option {name} = '{text}' must be an ISO-8601 time such as 2026-11-30T00:00:00Z");
                return null;
            },
        };
    }

    private static void Check<T>(OptionResult r, string name, T value, T min, T max) where T : IComparable<T>
    {
        if (value.CompareTo(min) < 0 || value.CompareTo(max) > 0)
            r.AddError($"option {name} = {Convert.ToString(value, CultureInfo.InvariantCulture)} must be in [{Convert.ToString(min, CultureInfo.InvariantCulture)}, {Convert.ToString(max, CultureInfo.InvariantCulture)}]");
    }

    private static string F(double v) => v.ToString(CultureInfo.InvariantCulture);

    public static T With<T>(this T command, params Option[] options) where T : Command
    {
        foreach (var o in options) command.Options.Add(o);
        return command;
    }
}

/// <summary>
/// Runs a System.CommandLine root with the project's exit codes: 0 ok, 1 bad input or a store error (one line, no
/// stack trace), 2 a bad command line (the errors, then a pointer to --help).
/// </summary>
public static class CliRunner
{
    public const int Ok = 0, Failed = 1, Usage = 2;

    /// <summary>Exceptions that are the user's input or the environment, reported as one line with exit 1.</summary>
    public static Func<Exception, bool> IsUserFailure { get; set; } = e =>
        e is FormatException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException
            or StackExchange.Redis.RedisException or System.Runtime.InteropServices.ExternalException;

    public static async Task<int> RunAsync(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr, Func<Exception, string?>? describe = null)
    {
        var result = root.Parse(args);
        if (result.Errors.Count > 0 && result.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var e in result.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine($"see '{root.Name} {string.Join(' ', CommandPath(result))} --help'".Replace("  ", " ", StringComparison.Ordinal));
            return Usage;
        }
        try
        {
            return await result.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return Usage;
        }
        catch (Exception e) when (describe?.Invoke(e) is { } message)
        {
            stderr.WriteLine($"error: {message}");
            return Failed;
        }
        catch (Exception e) when (IsUserFailure(e))
        {
            stderr.WriteLine($"error: {e.Message}");
            return Failed;
        }
    }

    private static IEnumerable<string> CommandPath(ParseResult result)
    {
        var names = new List<string>();
        for (var c = result.CommandResult; c is not null && c.Parent is not null; c = c.Parent as CommandResult) names.Add(c.Command.Name);
        names.Reverse();
        return names;
    }
}
