using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CoNRec.Core;
using Microsoft.Extensions.Options;

namespace CoNRec.FilterService;

/// <summary>One labelled tuning sample: the shape of tune's <c>samples[i]</c>, a JSONL line or a CSV row.</summary>
internal sealed record TuneSample(string UserId, string ItemId, uint[]? Sid, bool Disliked);

public sealed record SampleFileInfo(string Name, long Bytes, DateTimeOffset Modified, string Format);

/// <summary>
/// The sample files an operator can pick in the console: files directly inside <see cref="AdminOptions.SamplesDirectory"/>,
/// named by a plain file name (never a path), read at most <see cref="AdminEndpoints.MaxBodyBytes"/> at a time, and parsed
/// with tune's own rules. A name is checked against a strict pattern first and the resolved path again, links included,
/// so <c>../</c>, absolute paths and symbolic links out of the directory are refused.
/// </summary>
public sealed partial class SampleFiles(IOptions<AdminOptions> options)
{
    public const int MaxListed = 200;
    public const long MaxFileBytes = AdminEndpoints.MaxBodyBytes;

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,126}\.(jsonl|csv)$")]
    private static partial Regex FileName();

    public bool Configured => !string.IsNullOrWhiteSpace(options.Value.SamplesDirectory);

    private string Root => Path.GetFullPath(options.Value.SamplesDirectory!);

    /// <summary>The newest files first, at most <see cref="MaxListed"/>.</summary>
    public IReadOnlyList<SampleFileInfo> List()
    {
        if (!Configured) return [];
        var dir = new DirectoryInfo(Root);
        if (!dir.Exists) return [];
        return dir.EnumerateFiles()
            .Where(f => FileName().IsMatch(f.Name) && Inside(f))
            .OrderByDescending(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal)
            .Take(MaxListed)
            .Select(f => new SampleFileInfo(f.Name, f.Length, new DateTimeOffset(f.LastWriteTimeUtc, TimeSpan.Zero), Format(f.Name)))
            .ToList();
    }

    private static string Format(string name) => name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? "csv" : "jsonl";

    /// <summary>A regular file whose real location (after links) is directly inside the directory.</summary>
    private bool Inside(FileInfo f)
    {
        string real = f.LinkTarget is null ? f.FullName : (f.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? "");
        return string.Equals(Path.GetDirectoryName(real), Root.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal) && File.Exists(real);
    }

    /// <summary>The samples of file <paramref name="name"/>, or an HTTP status and a message naming the field, line and limit.</summary>
    internal async Task<(List<TuneSample>? Samples, int Status, string? Error)> ReadAsync(string name, SidLayout? layout, int maxIdBytes, CancellationToken cancellationToken)
    {
        if (!Configured) return (null, 404, "'sample_file' cannot be used: no sample directory is configured (Admin:SamplesDirectory)");
        if (!FileName().IsMatch(name))
            return (null, 400, $"'sample_file' = '{Excerpt(name)}' must be a file name listed by GET /admin/v1/samples (letters, digits, '_', '.', '-', ending .jsonl or .csv), not a path");
        var file = new FileInfo(Path.Combine(Root, name));
        if (!file.Exists || !Inside(file)) return (null, 404, $"'sample_file' = '{name}' is not in the sample directory");
        if (file.Length > MaxFileBytes) return (null, 400, $"'sample_file' = '{name}' is {file.Length} bytes; the limit is {MaxFileBytes}");
        byte[] bytes;
        try { bytes = await File.ReadAllBytesAsync(file.FullName, cancellationToken); }
        catch (IOException) { return (null, 404, $"'sample_file' = '{name}' could not be read"); }
        catch (UnauthorizedAccessException) { return (null, 404, $"'sample_file' = '{name}' could not be read"); }
        if (bytes.Length > MaxFileBytes) return (null, 400, $"'sample_file' = '{name}' is {bytes.Length} bytes; the limit is {MaxFileBytes}");
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) return (null, 400, $"'sample_file' = '{name}' is not valid UTF-8");
        string text = Encoding.UTF8.GetString(bytes);
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var (samples, error) = Format(name) == "csv" ? ParseCsv(text, layout, maxIdBytes) : ParseJsonl(text, layout, maxIdBytes);
        if (error is not null) return (null, 400, $"'sample_file' = '{name}' {error}");
        if (samples.Count == 0) return (null, 400, $"'sample_file' = '{name}' holds no samples");
        if (samples.Count > AdminEndpoints.MaxTuneSamples)
            return (null, 400, $"'sample_file' = '{name}' holds {samples.Count} samples; the limit is {AdminEndpoints.MaxTuneSamples}");
        return (samples, 200, null);
    }

    private static string Excerpt(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");

    /// <summary>One JSON object per line, exactly tune's <c>samples[i]</c>; blank lines are skipped. Stops at the first bad line.</summary>
    internal static (List<TuneSample> Samples, string? Error) ParseJsonl(string text, SidLayout? layout, int maxIdBytes)
    {
        var samples = new List<TuneSample>();
        int line = 0;
        foreach (var raw in text.Split('\n'))
        {
            line++;
            var trimmed = raw.AsSpan().Trim();
            if (trimmed.IsEmpty) continue;
            if (samples.Count >= AdminEndpoints.MaxTuneSamples) return (samples, $"has more than {AdminEndpoints.MaxTuneSamples} samples; the limit is {AdminEndpoints.MaxTuneSamples}");
            try
            {
                using var doc = JsonDocument.Parse(trimmed.ToString(), new JsonDocumentOptions { MaxDepth = 8 });
                var sample = AdminEndpoints.ParseSample(doc.RootElement, null, layout, maxIdBytes, out var error);
                if (error is not null) return (samples, $"line {line}: {error}");
                samples.Add(sample!);
            }
            catch (JsonException e) { return (samples, $"line {line}: not valid JSON ({e.Message})"); }
        }
        return (samples, null);
    }

    /// <summary>
    /// CSV with a header naming user_id, item_id and disliked (any order, any case) and optionally sid (codes separated
    /// by spaces, '|' or ';'); disliked is true/false/1/0; other columns are ignored; RFC 4180 quoting.
    /// </summary>
    internal static (List<TuneSample> Samples, string? Error) ParseCsv(string text, SidLayout? layout, int maxIdBytes)
    {
        var samples = new List<TuneSample>();
        var (records, splitError) = SplitCsv(text);
        if (splitError is not null) return (samples, splitError);
        if (records.Count == 0) return (samples, null);
        var header = records[0].Fields.Select(h => h.Trim().ToLowerInvariant()).ToList();
        int user = header.IndexOf("user_id"), item = header.IndexOf("item_id"), disliked = header.IndexOf("disliked"), sid = header.IndexOf("sid");
        var missing = new[] { ("user_id", user), ("item_id", item), ("disliked", disliked) }.Where(c => c.Item2 < 0).Select(c => c.Item1).ToList();
        if (missing.Count > 0)
            return (samples, $"line {records[0].Line}: the header must name user_id, item_id and disliked (optionally sid); missing {string.Join(", ", missing)}");
        foreach (var (line, fields) in records.Skip(1))
        {
            if (samples.Count >= AdminEndpoints.MaxTuneSamples) return (samples, $"has more than {AdminEndpoints.MaxTuneSamples} samples; the limit is {AdminEndpoints.MaxTuneSamples}");
            int needed = Math.Max(Math.Max(user, item), Math.Max(disliked, sid)) + 1;
            if (fields.Count < needed) return (samples, $"line {line}: has {fields.Count} fields; the header has {header.Count}");
            string? Id(int column, string field, out string? problem)
            {
                problem = null;
                string v = fields[column].Trim();
                if (v.Length == 0) { problem = $"'{field}' is required and must be a non-empty string"; return null; }
                if (Encoding.UTF8.GetByteCount(v) > maxIdBytes) { problem = $"'{field}' is longer than {maxIdBytes} bytes"; return null; }
                return v;
            }
            var userId = Id(user, "user_id", out var userError);
            if (userError is not null) return (samples, $"line {line}: {userError}");
            var itemId = Id(item, "item_id", out var itemError);
            if (itemError is not null) return (samples, $"line {line}: {itemError}");
            bool? label = fields[disliked].Trim().ToLowerInvariant() switch { "true" or "1" => true, "false" or "0" => false, _ => null };
            if (label is null) return (samples, $"line {line}: 'disliked' = '{Excerpt(fields[disliked].Trim())}' must be true, false, 1 or 0");
            uint[]? codes = null;
            if (sid >= 0 && fields[sid].Trim().Length > 0)
            {
                var parts = fields[sid].Split([' ', '\t', '|', ';'], StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > SidLayout.MaxLevels) return (samples, $"line {line}: 'sid' has more than {SidLayout.MaxLevels} codes");
                codes = new uint[parts.Length];
                for (int k = 0; k < parts.Length; k++)
                {
                    if (!uint.TryParse(parts[k], NumberStyles.None, CultureInfo.InvariantCulture, out codes[k]))
                        return (samples, $"line {line}: 'sid[{k}]' = '{Excerpt(parts[k])}' must be a non-negative integer");
                }
                if (layout is { } l && l.Validate(codes, "sid") is { } sidError) return (samples, $"line {line}: {sidError}");
            }
            samples.Add(new TuneSample(userId!, itemId!, codes, label.Value));
        }
        return (samples, null);
    }

    /// <summary>RFC 4180 records (quoted fields, "" escapes, quoted line breaks; CRLF or LF), each with the line it starts on; blank lines skipped.</summary>
    internal static (List<(int Line, List<string> Fields)> Records, string? Error) SplitCsv(string text)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, recordLine = 1, quoteLine = 0;
        bool quoted = false, started = false;
        void EndRecord()
        {
            fields.Add(field.ToString());
            if (started || fields.Count > 1 || fields[0].Trim().Length > 0) records.Add((recordLine, fields));
            fields = [];
            field.Clear();
            started = false;
        }
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else quoted = false;
                }
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    if (field.ToString().Trim().Length > 0) return (records, $"line {line}: a quote inside an unquoted field");
                    field.Clear();
                    quoted = true;
                    started = true;
                    quoteLine = line;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    started = true;
                    break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    break; // the \n ends the record
                case '\n':
                    EndRecord();
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(c);
                    break;
            }
        }
        if (quoted) return (records, $"line {quoteLine}: a quoted field is not closed");
        EndRecord();
        return (records, null);
    }
}
