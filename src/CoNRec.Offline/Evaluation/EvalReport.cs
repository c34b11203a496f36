using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CoNRec.Offline.Evaluation;

/// <summary>Where a row's served threshold came from: the validation cases' operating point within the liked budget.</summary>
public sealed record ValidationChoice(string Parameters, double Threshold, double DislikedRejectRate, double LikedRejectRate, int Cases);

/// <summary>One method of the report: its test metrics with intervals, its test curve (and band), and how it serves.</summary>
public sealed class ReportRow
{
    public required string Method { get; init; }
    public MethodKind Kind { get; init; }
    public string? Detail { get; init; }
    public required MethodMetrics Metrics { get; init; }
    [JsonIgnore] public OperatingCurve Curve { get; init; } = null!;
    [JsonIgnore] public MethodResult? Result { get; init; }
    public Dictionary<Metric, Interval> Intervals { get; init; } = [];
    /// <summary>The test curve's best point within the liked budget (thresholds read off the test curve: for comparing curves only).</summary>
    public OperatingPoint? AtBudget { get; init; }
    public IReadOnlyList<(double Liked, Interval Disliked)> Band { get; init; } = [];
    /// <summary>The threshold (and parameters) chosen on validation; null without validation cases.</summary>
    public ValidationChoice? Validation { get; init; }
    /// <summary>Rates on test when serving at <see cref="Validation"/>'s threshold: what deploying this configuration gives.</summary>
    public Interval ServedDisliked { get; init; } = Interval.None;
    public Interval ServedLiked { get; init; } = Interval.None;
    public double MeanSetSize { get; init; }
}

/// <summary>A paired bootstrap difference a − b of one metric on the same test users.</summary>
public sealed record PairedDifference(string A, string B, Metric Metric, Interval Difference);

/// <summary>Sizes of the split, printed for every run: what every rate below rests on.</summary>
public sealed record CaseCounts(int Cases, int Users, int LufCases, int LifCases, int FutureDisliked, int FutureLiked)
{
    public static CaseCounts Of(IReadOnlyList<EvalCase> cases, MethodResult? generator) => new(
        cases.Count, cases.Select(c => c.UserId).Distinct(StringComparer.Ordinal).Count(), generator?.Metrics.LufCases ?? 0, generator?.Metrics.LifCases ?? 0,
        cases.Sum(c => c.FutureNegatives.Count), cases.Sum(c => c.FuturePositives.Count));

    public override string ToString() =>
        $"{Cases} cases ({Users} users), {LufCases} LUF cases, {LifCases} LIF cases, {FutureDisliked} future disliked and {FutureLiked} future liked items";
}

/// <summary>
/// Everything one evaluation run reports: a row per method (model, profile components, baselines, rules; same test
/// cases), 95% bootstrap intervals over users for every metric, paired differences between the served profile and each
/// baseline, the validation-chosen operating points and what they give on test, and free-form extras.
/// </summary>
public sealed class EvalReport
{
    /// <summary>The liked-rejection budget of the headline operating point (the filter's default objective).</summary>
    public const double HeadlineLikedRate = 0.05;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string Title { get; set; } = "CoNRec evaluation";
    public int K { get; set; } = 20;
    public string Split { get; set; } = "";
    public CaseCounts? Test { get; set; }
    public CaseCounts? Validation { get; set; }
    public int Resamples { get; set; }
    /// <summary>The method the service serves (its threshold and parameters are the demo's).</summary>
    public string? Served { get; set; }
    public List<ReportRow> Rows { get; } = [];
    public List<PairedDifference> Differences { get; } = [];
    public Dictionary<string, object> Extras { get; } = new(StringComparer.Ordinal);

    public ReportRow Row(string method) => Rows.FirstOrDefault(r => r.Method == method) ?? throw new KeyNotFoundException($"no row '{method}' in the report");

    /// <summary>Adds a plain row (no intervals, no validation): tests and quick reports.</summary>
    public void Add(MethodResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        Add(new ReportRow
        {
            Method = result.Metrics.Method, Kind = result.Kind, Detail = result.Detail, Metrics = result.Metrics, Curve = result.Curve, Result = result,
            AtBudget = result.Curve.PointAtLikedRate(HeadlineLikedRate),
            MeanSetSize = result.Outcomes.Count == 0 ? 0 : result.Outcomes.Average(o => o.SetSize),
        });
    }

    public void Add(ReportRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (Rows.Any(r => r.Method == row.Method)) throw new ArgumentException($"method '{row.Method}' is already in the report", nameof(row));
        Rows.Add(row);
    }

    public void WriteJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var doc = new
        {
            Title, K, Split, Test, Validation, BootstrapResamples = Resamples, LikedBudget = HeadlineLikedRate, Served,
            Rows = Rows.Select(r => new
            {
                r.Method, r.Kind, r.Detail, r.Metrics,
                Intervals = r.Intervals.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value),
                r.AtBudget, r.Validation, r.ServedDisliked, r.ServedLiked, r.MeanSetSize,
                Band = r.Band.Select(b => new { liked = b.Liked, disliked = b.Disliked }),
                Curve = new { r.Curve.Disliked, r.Curve.Liked, Points = r.Curve.Thin(400, r.AtBudget) },
            }),
            Differences, Extras,
        };
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllText(path, JsonSerializer.Serialize(doc, Json));
    }

    /// <summary>Plain-text tables for stdout: sizes, generator metrics, the filter's operating points, paired differences.</summary>
    public string FormatTable()
    {
        var sb = new StringBuilder();
        if (Split.Length > 0) sb.Append(Split).Append('\n');
        if (Test is { } t) sb.Append("test: ").Append(t).Append('\n');
        if (Validation is { } v) sb.Append("validation: ").Append(v).Append('\n');
        if (Resamples > 0) sb.Append(CultureInfo.InvariantCulture, $"[a, b]: 95% bootstrap interval over users ({Resamples} resamples)\n");
        sb.Append('\n');

        var metrics = new List<string[]> { new[] { "method", $"HR@{K}", $"FHR@{K}", $"LUF@{K}", $"LIF@{K}", "CandAcc", "SIDs" } };
        foreach (var r in Rows)
        {
            string Cell(Metric m, double? value) => WithInterval(value, r.Intervals.GetValueOrDefault(m));
            metrics.Add([r.Method, Cell(Metric.HR, r.Metrics.HR), Cell(Metric.FHR, r.Metrics.FHR), Cell(Metric.LUF, r.Metrics.LUF),
                         Cell(Metric.LIF, r.Metrics.LIF), Cell(Metric.CandidateAcc, r.Metrics.CandidateAcc),
                         r.Kind == MethodKind.Rule ? "rule" : r.MeanSetSize.ToString("0.0", CultureInfo.InvariantCulture)]);
        }
        Align(sb, metrics);
        sb.Append('\n');

        var filter = new List<string[]> { new[] { "method", $"disliked rejected at <= {HeadlineLikedRate:P0} liked (test curve)", "threshold chosen on validation", "on test: disliked", "liked" } };
        foreach (var r in Rows)
        {
            var at = r.AtBudget;
            filter.Add([r.Method + (r.Method == Served ? " *" : ""),
                        WithInterval(at?.DislikedRejectRate, r.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget)),
                        r.Validation is { } val ? $"t={F(val.Threshold, "0.0000")} ({val.Parameters})" : "n/a",
                        WithInterval(r.ServedDisliked.Estimate, r.ServedDisliked), WithInterval(r.ServedLiked.Estimate, r.ServedLiked)]);
        }
        Align(sb, filter);
        if (Served is not null) sb.Append("* served: its threshold and parameters come from validation cases only; test cases only measure them\n");

        if (Differences.Count > 0)
        {
            sb.Append('\n');
            var diffs = new List<string[]> { new[] { "paired difference (same users)", "metric", "a - b", "excludes 0" } };
            foreach (var d in Differences)
                diffs.Add([$"{d.A} - {d.B}", MetricName(d.Metric), WithInterval(d.Difference.Estimate, d.Difference, signed: true), d.Difference.ExcludesZero ? "yes" : "no"]);
            Align(sb, diffs);
        }
        return sb.ToString();
    }

    public static string MetricName(Metric m) => m switch
    {
        Metric.DislikedAtLikedBudget => $"disliked@<={HeadlineLikedRate:P0}liked",
        Metric.CandidateAcc => "CandAcc",
        _ => m.ToString(),
    };

    internal static void Align(StringBuilder sb, List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(col => rows.Max(r => r[col].Length)).ToArray();
        foreach (var row in rows)
        {
            sb.Append(row[0].PadRight(widths[0]));
            for (int col = 1; col < row.Length; col++) sb.Append("  ").Append(row[col].PadLeft(widths[col]));
            sb.Append('\n');
        }
    }

    internal static string WithInterval(double? value, Interval i, bool signed = false)
    {
        string format = signed ? "+0.000;-0.000;0.000" : "0.000";
        string v = F(value, format);
        return i.Lower is { } lo && i.Upper is { } hi ? $"{v} [{F(lo, format)}, {F(hi, format)}]" : v;
    }

    private static string F(double? v, string format = "0.0000") => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
