using System.Globalization;
using System.Text;
using System.Text.Json;
using CoNRec.Offline.Data;

namespace CoNRec.Offline.Evaluation;

/// <summary>One ablation row: its model's own row (the filter on its SIDs alone) and the served profile built on them.</summary>
public sealed record AblationRow(string Name, string Detail, ReportRow Model, ReportRow Served, ReportRow WithoutModel, double TrainSeconds);

/// <summary>The paper's Table 2 on this data: each module added in turn, plus a learned non-LLM peer, with paired intervals.</summary>
public sealed class AblationReport
{
    public required string Title { get; init; }
    public required string Split { get; init; }
    public int K { get; init; } = 20;
    public int Resamples { get; init; }
    public List<AblationRow> Rows { get; } = [];
    public List<PairedDifference> Differences { get; } = [];

    public string FormatTable()
    {
        var sb = new StringBuilder();
        sb.Append(Title).Append('\n').Append(Split).Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"[a, b]: 95% bootstrap interval over users ({Resamples} resamples); filter columns: disliked rejected at <= {EvalReport.HeadlineLikedRate:P0} liked rejected (test curve)\n\n");
        var table = new List<string[]> { new[] { "row", $"FHR@{K}", "CandAcc", "model as filter", "served profile", "train s" } };
        foreach (var r in Rows)
            table.Add([r.Name,
                EvalReport.WithInterval(r.Model.Metrics.FHR, r.Model.Intervals.GetValueOrDefault(Metric.FHR)),
                EvalReport.WithInterval(r.Model.Metrics.CandidateAcc, r.Model.Intervals.GetValueOrDefault(Metric.CandidateAcc)),
                EvalReport.WithInterval(r.Model.AtBudget?.DislikedRejectRate, r.Model.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget)),
                EvalReport.WithInterval(r.Served.AtBudget?.DislikedRejectRate, r.Served.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget)),
                r.TrainSeconds.ToString("0", CultureInfo.InvariantCulture)]);
        EvalReport.Align(sb, table);
        if (Rows.Count > 0)
            sb.Append(CultureInfo.InvariantCulture, $"served profile without any model SIDs (recent negatives + guard): {EvalReport.WithInterval(Rows[0].WithoutModel.AtBudget?.DislikedRejectRate, Rows[0].WithoutModel.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget))}\n");
        sb.Append('\n');
        var diffs = new List<string[]> { new[] { "paired difference (same users)", "metric", "a - b", "excludes 0" } };
        foreach (var d in Differences)
            diffs.Add([$"{d.A} - {d.B}", EvalReport.MetricName(d.Metric), EvalReport.WithInterval(d.Difference.Estimate, d.Difference, signed: true), d.Difference.ExcludesZero ? "yes" : "no"]);
        EvalReport.Align(sb, diffs);
        return sb.ToString();
    }

    public void WriteJson(string path)
    {
        var doc = new
        {
            title = Title, split = Split, k = K, resamples = Resamples,
            rows = Rows.Select(r => new
            {
                name = r.Name, detail = r.Detail, train_seconds = r.TrainSeconds,
                fhr = Cell(r.Model.Metrics.FHR, r.Model.Intervals.GetValueOrDefault(Metric.FHR)),
                candidate_acc = Cell(r.Model.Metrics.CandidateAcc, r.Model.Intervals.GetValueOrDefault(Metric.CandidateAcc)),
                model_disliked_at_budget = Cell(r.Model.AtBudget?.DislikedRejectRate, r.Model.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget)),
                served_disliked_at_budget = Cell(r.Served.AtBudget?.DislikedRejectRate, r.Served.Intervals.GetValueOrDefault(Metric.DislikedAtLikedBudget)),
                served_parameters = r.Served.Validation?.Parameters,
                served_threshold = r.Served.Validation?.Threshold,
                served_on_test = Cell(r.Served.ServedDisliked.Estimate, r.Served.ServedDisliked),
            }),
            differences = Differences.Select(d => new { a = d.A, b = d.B, metric = EvalReport.MetricName(d.Metric), estimate = d.Difference.Estimate, lower = d.Difference.Lower, upper = d.Difference.Upper, excludes_zero = d.Difference.ExcludesZero }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static object Cell(double? v, Interval i) => new { estimate = v, lower = i.Lower, upper = i.Upper };
}

public static class AblationEvaluation
{
    public sealed record Entry(string Name, string Detail, Func<EvalCase, IReadOnlyList<ulong>> Predict, double TrainSeconds);

    /// <summary>
    /// Evaluates every row on the same split with the same protocol as <c>eval</c> (parameters and thresholds from
    /// validation cases), then the paired differences on the same users that the targets name: every row against row 1
    /// on FHR and on the filter built from its SIDs alone, the served profiles likewise, and each served profile
    /// against the same profile without model SIDs (what the model adds).
    /// </summary>
    public static AblationReport Run(string title, Evaluator evaluator, TemporalSplit split, InteractionDataset dataset, IReadOnlyDictionary<string, ulong> catalog,
        IReadOnlyList<Entry> entries, ProfileGrid grid, int resamples, int seed, int k)
    {
        var report = new AblationReport { Title = title, Split = split.Describe(), K = k, Resamples = resamples };
        foreach (var e in entries)
        {
            var outcome = new FilterEvaluation(evaluator, split, dataset, catalog).Run(e.Name, e.Predict, grid, resamples, seed, k, includeBaselines: false);
            report.Rows.Add(new AblationRow(e.Name, e.Detail, outcome.Report.Row(FilterEvaluation.ModelName), outcome.Report.Row(FilterEvaluation.ServedName),
                outcome.Report.Row(FilterEvaluation.NegativesGuardName), e.TrainSeconds));
        }
        var bootstrap = new Bootstrap(split.Cases, resamples, seed, EvalReport.HeadlineLikedRate);
        var first = report.Rows[0];
        foreach (var r in report.Rows.Skip(1))
        {
            report.Differences.Add(new PairedDifference(r.Name, first.Name, Metric.FHR, bootstrap.Difference(r.Model.Result!, first.Model.Result!, Metric.FHR)));
            report.Differences.Add(new PairedDifference(r.Name, first.Name, Metric.DislikedAtLikedBudget, bootstrap.Difference(r.Model.Result!, first.Model.Result!, Metric.DislikedAtLikedBudget)));
            report.Differences.Add(new PairedDifference($"served({r.Name})", $"served({first.Name})", Metric.DislikedAtLikedBudget,
                bootstrap.Difference(r.Served.Result!, first.Served.Result!, Metric.DislikedAtLikedBudget)));
        }
        foreach (var r in report.Rows)
            report.Differences.Add(new PairedDifference($"served({r.Name})", "served without model SIDs", Metric.DislikedAtLikedBudget,
                bootstrap.Difference(r.Served.Result!, r.WithoutModel.Result!, Metric.DislikedAtLikedBudget)));
        return report;
    }
}
