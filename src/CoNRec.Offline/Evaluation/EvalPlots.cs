using ScottPlot;

namespace CoNRec.Offline.Evaluation;

/// <summary>
/// PNG plots of an <see cref="EvalReport"/> (ScottPlot 5, rendered by SkiaSharp; no display needed): the operating
/// curves with their bootstrap bands (whole range, and the low-liked region where a filter operates), and the metrics
/// with 95% error bars.
/// </summary>
public static class EvalPlots
{
    public const string OperatingCurvesFile = "operating_curves.png";
    public const string OperatingCurvesLowFile = "operating_curves_low.png";
    public const string MetricsFile = "metrics.png";

    /// <summary>Writes the three plots into <paramref name="dir"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(EvalReport report, string dir, int width = 1000, int height = 700)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (width < 100 || height < 100) throw new ArgumentOutOfRangeException(nameof(width), $"plot size {width}x{height} is below 100x100");
        Directory.CreateDirectory(dir);
        var curves = Path.Combine(dir, OperatingCurvesFile);
        var low = Path.Combine(dir, OperatingCurvesLowFile);
        var metrics = Path.Combine(dir, MetricsFile);
        OperatingCurves(report, 1.0).SavePng(curves, width, height);
        OperatingCurves(report, 0.2).SavePng(low, width, height);
        Metrics(report).SavePng(metrics, width, height);
        return [curves, low, metrics];
    }

    private static Plot OperatingCurves(EvalReport report, double maxLiked)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int n = 0;
        foreach (var row in report.Rows)
        {
            if (row.Curve is null || row.Curve.Points.Count == 0) continue;
            var color = palette.GetColor(n++);
            if (row.Kind == MethodKind.Rule)
            {
                // A rule has one operating point (block or keep): draw it, not a line.
                var p = row.Curve.Points.FirstOrDefault(q => q.Threshold == 0) ?? row.Curve.Points[0];
                var marker = plt.Add.Marker(p.LikedRejectRate, p.DislikedRejectRate, MarkerShape.FilledDiamond, 12, color);
                marker.LegendText = $"{row.Method} (rule)";
                continue;
            }
            if (row.Band.Count > 1)
            {
                var band = plt.Add.FillY([.. row.Band.Select(b => b.Liked)], [.. row.Band.Select(b => b.Disliked.Lower ?? 0)], [.. row.Band.Select(b => b.Disliked.Upper ?? 0)]);
                band.FillColor = color.WithAlpha(0.15);
                band.LineWidth = 0;
            }
            var points = row.Curve.Thin(600);
            var line = plt.Add.Scatter(points.Select(p => p.LikedRejectRate).ToArray(), points.Select(p => p.DislikedRejectRate).ToArray(), color);
            line.LegendText = row.Method == report.Served ? row.Method + " (served)" : row.Method;
            line.MarkerSize = 0;
            line.LineWidth = row.Method == report.Served ? 3 : 1.5f;
            if (row.Method == report.Served && row.ServedDisliked.Estimate is { } d && row.ServedLiked.Estimate is { } l)
            {
                var at = plt.Add.Marker(l, d, MarkerShape.FilledCircle, 11, color);
                at.LegendText = "served threshold (chosen on validation), on test";
            }
        }
        var budget = plt.Add.VerticalLine(EvalReport.HeadlineLikedRate, 1, Colors.Gray);
        budget.LinePattern = LinePattern.Dashed;
        budget.LegendText = $"{EvalReport.HeadlineLikedRate:P0} liked rejected";
        plt.Title($"{report.Title}: operating curves on test, 95% bootstrap bands{(maxLiked < 1 ? $" (liked ≤ {maxLiked:P0})" : "")}");
        plt.XLabel("liked items rejected (rate)");
        plt.YLabel("disliked items rejected (rate)");
        plt.Axes.SetLimits(0, maxLiked, 0, 1);
        plt.ShowLegend(Alignment.LowerRight);
        return plt;
    }

    private static Plot Metrics(EvalReport report)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        (string Name, Metric Metric)[] metrics =
            [($"HR@{report.K}", Metric.HR), ($"FHR@{report.K}", Metric.FHR), ($"LUF@{report.K}", Metric.LUF), ($"LIF@{report.K}", Metric.LIF),
             ("CandAcc", Metric.CandidateAcc), ($"disliked@≤{EvalReport.HeadlineLikedRate:P0}liked", Metric.DislikedAtLikedBudget)];
        int methods = Math.Max(1, report.Rows.Count);
        double barWidth = 0.8 / methods;
        var bars = new List<Bar>();
        var (ex, ey, lo, hi) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int m = 0; m < report.Rows.Count; m++)
        {
            var row = report.Rows[m];
            var color = palette.GetColor(m);
            for (int k = 0; k < metrics.Length; k++)
            {
                // A metric without cases (or not defined for a rule) draws no bar rather than a misleading zero.
                if (!row.Intervals.TryGetValue(metrics[k].Metric, out var i) || i.Estimate is not { } v)
                {
                    v = metrics[k].Metric switch
                    {
                        Metric.HR => row.Metrics.HR, Metric.FHR => row.Metrics.FHR, Metric.LUF => row.Metrics.LUF, Metric.LIF => row.Metrics.LIF,
                        Metric.CandidateAcc => row.Metrics.CandidateAcc, _ => row.AtBudget?.DislikedRejectRate,
                    } ?? double.NaN;
                    if (double.IsNaN(v)) continue;
                    i = default;
                }
                double x = k + ((m - ((methods - 1) / 2.0)) * barWidth);
                bars.Add(new Bar { Position = x, Value = v, Size = barWidth * 0.95, FillColor = color });
                if (i.Lower is { } l && i.Upper is { } u) { ex.Add(x); ey.Add(v); lo.Add(v - l); hi.Add(u - v); }
            }
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = row.Method, FillColor = color });
        }
        if (bars.Count > 0) plt.Add.Bars(bars);
        if (ex.Count > 0)
        {
            var err = plt.Add.ErrorBar(ex, ey, hi);
            err.YErrorNegative = [.. lo];
            err.YErrorPositive = [.. hi];
            err.Color = Colors.Black;
        }
        plt.Axes.Bottom.SetTicks(Enumerable.Range(0, metrics.Length).Select(i => (double)i).ToArray(), [.. metrics.Select(m => m.Name)]);
        plt.Axes.Margins(bottom: 0);
        plt.Title($"{report.Title}: metrics on test with 95% bootstrap intervals");
        plt.YLabel("value");
        plt.ShowLegend(Alignment.UpperRight);
        return plt;
    }
}
