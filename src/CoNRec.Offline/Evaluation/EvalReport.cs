using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// Everything one evaluation run reports: a metrics row and an operating curve per method (model and baselines,
/// same cases), the category rule's single point, and free-form extras (stage timings, dataset sizes, options).
/// </summary>
public sealed class EvalReport
{
    /// <summary>The liked-rejection budget of the headline operating point (the filter's default objective).</summary>
    public const double HeadlineLikedRate = 0.05;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Title { get; set; } = "CoNRec evaluation";
    public int K { get; set; } = 20;
    public List<MethodMetrics> Rows { get; } = [];
    public Dictionary<string, OperatingCurve> Curves { get; } = new(StringComparer.Ordinal);
    public RulePoint? CategoryRule { get; set; }
    public Dictionary<string, object> Extras { get; } = new(StringComparer.Ordinal);

    public void Add(MethodResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (Curves.ContainsKey(result.Metrics.Method)) throw new ArgumentException($"method '{result.Metrics.Method}' is already in the report", nameof(result));
        Rows.Add(result.Metrics);
        Curves[result.Metrics.Method] = result.Curve;
    }

    public void WriteJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var doc = new
        {
            Title,
            K,
            Metrics = Rows,
            Curves = Curves.ToDictionary(kv => kv.Key, kv => new
            {
                kv.Value.Disliked,
                kv.Value.Liked,
                AtLikedRate = new { MaxLikedRate = HeadlineLikedRate, Point = kv.Value.PointAtLikedRate(HeadlineLikedRate) },
                kv.Value.Points,
            }),
            CategoryRule,
            Extras,
        };
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllText(path, JsonSerializer.Serialize(doc, Json));
    }

    /// <summary>An aligned plain-text table for stdout: one row per method, then the category rule's point.</summary>
    public string FormatTable()
    {
        var header = new[] { "method", $"HR@{K}", $"FHR@{K}", $"LUF@{K}", $"LIF@{K}", "CandAcc", "cases", "luf_cases", "lif_cases", "disliked_rej@5%liked" };
        var rows = new List<string[]> { header };
        foreach (var m in Rows)
        {
            var at = Curves.TryGetValue(m.Method, out var curve) ? curve.PointAtLikedRate(HeadlineLikedRate) : null;
            rows.Add([m.Method, F(m.HR), F(m.FHR), F(m.LUF), F(m.LIF), F(m.CandidateAcc),
                      I(m.Cases), I(m.LufCases), I(m.LifCases), at is null ? "n/a" : $"{F(at.DislikedRejectRate)} (t={F(at.Threshold, "0.00")})"]);
        }
        var widths = Enumerable.Range(0, header.Length).Select(col => rows.Max(r => r[col].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            // Method name left-aligned, numbers right-aligned so decimal points line up.
            sb.Append(row[0].PadRight(widths[0]));
            for (int col = 1; col < row.Length; col++) sb.Append("  ").Append(row[col].PadLeft(widths[col]));
            sb.Append('\n');
        }
        if (CategoryRule is { } r)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{r.Name}: rejects {F(r.DislikedRejectRate)} of {r.Disliked} disliked and {F(r.LikedRejectRate)} of {r.Liked} liked");
            sb.Append(CultureInfo.InvariantCulture, $" (precision {F(r.Precision)})\n");
        }
        return sb.ToString();
    }

    private static string F(double? v, string format = "0.0000") => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "n/a";
    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
